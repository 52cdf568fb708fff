"""Helpers every HTML view uses: the permission gate and the mapping of domain errors to forms."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form

from .errors import DomainError
from .roles import user_can


def permission_required(permission: str) -> Callable:
    """403 unless the signed-in user holds ``permission`` (login itself is enforced globally)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not user_can(request.user, permission):
                raise PermissionDenied(f"This needs the '{permission}' permission.")
            return view(request, *args, **kwargs)

        wrapper.required_permission = permission
        return wrapper

    return decorator


def form_add_domain_error(form: Form, exc: DomainError | ValidationError) -> None:
    """Show a service's error inline, on the field it names when the form has that field."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
        return
    if isinstance(exc, ValidationError):
        form.add_error(None, exc.messages)
        return
    field = exc.field
    if field and field not in form.fields and field.endswith("_id") and field[:-3] in form.fields:
        field = field[:-3]
    form.add_error(field if field in form.fields else None, exc.message)
