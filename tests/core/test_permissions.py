"""Who may call what: every role and API-key scope against representative endpoints, as roles.py says."""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from servicebay.core.roles import PERMISSIONS, SCOPES, Role
from servicebay.shop.choices import JobCardStatus
from tests import factories

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Operation:
    name: str
    permission: str
    success: int
    request: Callable[[], tuple[str, str, dict | None]]  # builds its data, returns (method, path, body)


def _card(status: str = JobCardStatus.OPEN):
    return factories.make_job_card_in(status)


def _customer_body():
    return {"first_name": "Role", "last_name": "Test"}


def _vehicle_request():
    return "POST", f"/customers/{factories.make_customer().pk}/vehicles", {
        "make": "Kia", "model": "Ceed", "year": 2020}


def _booking_request():
    vehicle, location = factories.make_vehicle(), factories.make_location()
    return "POST", "/appointments", {
        "customer_id": vehicle.customer_id, "vehicle_id": vehicle.pk, "location_id": location.pk,
        "start_at": factories.future().isoformat()}


def _open_request():
    vehicle, location = factories.make_vehicle(), factories.make_location()
    return "POST", "/job-cards", {"customer_id": vehicle.customer_id, "vehicle_id": vehicle.pk,
                                  "location_id": location.pk}


def _move(from_status: str, to_status: str):
    return lambda: ("POST", f"/job-cards/{_card(from_status).pk}/status", {"status": to_status})


OPERATIONS = [
    Operation("list customers", "shop.view", 200, lambda: ("GET", "/customers", None)),
    Operation("read job card", "shop.view", 200, lambda: ("GET", f"/job-cards/{_card().pk}", None)),
    Operation("create customer", "customers.write", 201,
              lambda: ("POST", "/customers", _customer_body())),
    Operation("update customer", "customers.write", 200,
              lambda: ("PATCH", f"/customers/{factories.make_customer().pk}", {"first_name": "New"})),
    Operation("add vehicle", "vehicles.write", 201, _vehicle_request),
    Operation("book appointment", "appointments.write", 201, _booking_request),
    Operation("open job card", "jobcards.write", 201, _open_request),
    Operation("add line", "jobcards.write", 201, lambda: (
        "POST", f"/job-cards/{_card().pk}/lines", {"kind": "labor", "unit_price": "60"})),
    Operation("start card", "jobcards.write", 200, _move(JobCardStatus.OPEN, "in_progress")),
    Operation("complete card", "jobcards.manage", 200, _move(JobCardStatus.IN_PROGRESS, "completed")),
    Operation("close card", "jobcards.manage", 200, _move(JobCardStatus.COMPLETED, "closed")),
    Operation("cancel card", "jobcards.manage", 200, _move(JobCardStatus.IN_PROGRESS, "cancelled")),
    Operation("reopen card", "jobcards.manage", 200, _move(JobCardStatus.COMPLETED, "in_progress")),
    Operation("add note", "notes.write", 201, lambda: (
        "POST", f"/customers/{factories.make_customer().pk}/notes", {"body": "Called back"})),
    Operation("create part", "catalog.write", 201, lambda: (
        "POST", "/parts", {"sku": f"R-{factories.next_number()}", "name": "Wiper", "price": "8"})),
    Operation("create service template", "catalog.write", 201, lambda: (
        "POST", "/service-templates",
        {"code": f"T{factories.next_number()}", "name": "Wipers", "category": "Misc", "price": "8"})),
    Operation("create location", "locations.write", 201, lambda: (
        "POST", "/locations", {"name": f"Site {factories.next_number()}", "time_zone": "UTC"})),
]
ROLES = [role.value for role in Role] + ["anonymous"]


def _send(client: Client, operation: Operation, **headers):
    method, path, body = operation.request()
    kwargs = {"content_type": "application/json", "headers": headers}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method.lower())(f"/api/v1{path}", **kwargs)


def _expected_for_role(role: str, operation: Operation) -> int:
    if role == "anonymous":
        return 401
    return operation.success if Role(role) in PERMISSIONS[operation.permission] else 403


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
@pytest.mark.parametrize("role", ROLES)
def test_role_gets_exactly_what_the_roles_table_grants(client, role, operation):
    if role != "anonymous":
        client.force_login(factories.make_user(role))
    response = _send(client, operation)
    assert response.status_code == _expected_for_role(role, operation), response.content


# The table above follows roles.py; these pin the rules roles.py must keep saying.
PINNED = {
    ("technician", "add line"): True,
    ("technician", "start card"): True,
    ("technician", "add note"): True,
    ("technician", "complete card"): False,
    ("technician", "close card"): False,
    ("technician", "cancel card"): False,
    ("technician", "reopen card"): False,
    ("technician", "create customer"): False,
    ("marketing", "list customers"): True,
    ("marketing", "read job card"): True,
    **{("marketing", op.name): False for op in OPERATIONS if op.permission != "shop.view"},
    **{(role, "create part"): role in {"manager", "admin"} for role in ROLES if role != "anonymous"},
    **{(role, "create service template"): role in {"manager", "admin"}
       for role in ROLES if role != "anonymous"},
    ("advisor", "complete card"): True,
    ("advisor", "create location"): False,
    ("admin", "create location"): True,
}
_BY_NAME = {op.name: op for op in OPERATIONS}


@pytest.mark.parametrize(("role", "name"), sorted(PINNED))
def test_roles_table_keeps_the_agreed_rules(role, name):
    operation = _BY_NAME[name]
    assert (Role(role) in PERMISSIONS[operation.permission]) is PINNED[role, name]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
@pytest.mark.parametrize("scope", ["read", "write", "catalog"])
def test_api_key_gets_exactly_what_its_scope_grants(scope, operation):
    _, plaintext = factories.make_api_key(scope)
    response = _send(Client(), operation, Authorization=f"Bearer {plaintext}")
    expected = operation.success if operation.permission in SCOPES[scope] else 403
    assert response.status_code == expected, response.content


def test_superuser_holds_every_role(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-1"))
    assert _send(client, _BY_NAME["create location"]).status_code == 201
