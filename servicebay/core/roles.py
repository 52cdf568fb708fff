"""Roles, the permissions they grant, and the API-key scopes that grant the same permissions.

One table says who may do what; views, API endpoints and tests all read it, so a rule cannot be
changed in one place and forgotten in another. Staff get roles through Django groups named after
the role; a superuser holds every role.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models


class Role(models.TextChoices):
    ADVISOR = "advisor", "Service advisor"
    TECHNICIAN = "technician", "Technician"
    MANAGER = "manager", "Manager"
    MARKETING = "marketing", "Marketing"
    ADMIN = "admin", "Administrator"


A, T, M, MK, AD = Role.ADVISOR, Role.TECHNICIAN, Role.MANAGER, Role.MARKETING, Role.ADMIN

# permission -> roles that hold it
PERMISSIONS: dict[str, frozenset[Role]] = {
    "shop.view": frozenset({A, T, M, MK, AD}),
    "customers.write": frozenset({A, M, AD}),
    "vehicles.write": frozenset({A, M, AD}),
    "appointments.write": frozenset({A, M, AD}),
    "jobcards.write": frozenset({A, T, M, AD}),
    "jobcards.manage": frozenset({A, M, AD}),  # complete, close, cancel, reopen
    "notes.write": frozenset({A, T, M, AD}),
    "catalog.write": frozenset({M, AD}),
    "locations.write": frozenset({AD}),
    "apikeys.manage": frozenset({AD}),
    "visits.write": frozenset({A, M, AD}),  # check in/out, satisfaction, accept/decline work
    "recommendations.write": frozenset({A, T, M, AD}),  # technicians recommend work too
    "segments.view": frozenset({M, MK, AD}),
    "segments.manage": frozenset({M, MK, AD}),
    "segments.export": frozenset({M, MK, AD}),
    "segments.export_pii": frozenset({M, MK, AD}),  # raw email / phone in exports
    "warehouse.view": frozenset({M, AD}),
    "warehouse.run": frozenset({AD}),
    "loyalty.view": frozenset({A, M, MK, AD}),
    "loyalty.redeem": frozenset({A, M, AD}),  # pay part of a job card with points
    "loyalty.adjust": frozenset({M, AD}),  # manual corrections, reason required
    "loyalty.manage": frozenset({M, AD}),  # programs and their rules
    "loyalty.report": frozenset({M, AD}),  # liability report, ledger export
    "messaging.view": frozenset({A, M, MK, AD}),  # consent, message history, journeys (read)
    "messaging.send": frozenset({A, M, MK, AD}),  # send a message, record consent
    "messaging.manage": frozenset({M, MK, AD}),  # templates, journeys, suppressions
}

# API-key scope -> permissions it grants. A key never gets more than its scopes say.
SCOPES: dict[str, frozenset[str]] = {
    "read": frozenset({"shop.view"}),
    "write": frozenset(
        {
            "shop.view",
            "customers.write",
            "vehicles.write",
            "appointments.write",
            "jobcards.write",
            "jobcards.manage",
            "notes.write",
            "visits.write",
            "recommendations.write",
        }
    ),
    "catalog": frozenset({"shop.view", "catalog.write"}),
    "export": frozenset({"segments.view", "segments.export"}),
    "pii": frozenset({"segments.export_pii"}),
    "loyalty": frozenset({"shop.view", "loyalty.view", "loyalty.redeem"}),
    "messaging": frozenset({"shop.view", "messaging.view", "messaging.send"}),
}


def user_roles(user) -> frozenset[Role]:
    """The roles a signed-in user holds (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_servicebay_roles", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        roles = frozenset(Role)
    else:
        names = set(user.groups.values_list("name", flat=True))
        roles = frozenset(role for role in Role if role.value in names)
    user._servicebay_roles = roles
    return roles


def roles_grant(roles: Iterable[Role], permission: str) -> bool:
    allowed = PERMISSIONS[permission]
    return any(role in allowed for role in roles)


def scopes_grant(scopes: Iterable[str], permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(permission)
    return any(permission in SCOPES.get(scope, ()) for scope in scopes)


def user_can(user, permission: str) -> bool:
    return roles_grant(user_roles(user), permission)
