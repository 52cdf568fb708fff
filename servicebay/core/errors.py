"""Domain errors raised by services; one place maps them to HTTP answers and form errors."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the shop was broken by the request. ``field`` names the input at fault."""

    status_code = 422
    # Where the faulty input was sent: "body" for request fields, "query" for URL parameters.
    location = "body"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or type(self).__name__

    def as_detail(self) -> list[dict]:
        loc = [self.location, self.field] if self.field else [self.location]
        return [{"loc": loc, "msg": self.message, "type": self.code}]


class InvalidTransition(DomainError):
    """A status change the workflow does not allow (e.g. closing an open job card)."""

    status_code = 409


class Conflict(DomainError):
    status_code = 409


class PermissionDenied(DomainError):
    status_code = 403


def django_validation_detail(exc) -> list[dict]:
    """Turn a Django ValidationError into the same field-path list the API uses."""
    if hasattr(exc, "error_dict"):
        return [
            {"loc": ["body", field] if field != "__all__" else ["body"], "msg": msg, "type": "invalid"}
            for field, messages in exc.message_dict.items()
            for msg in messages
        ]
    return [{"loc": ["body"], "msg": msg, "type": "invalid"} for msg in exc.messages]
