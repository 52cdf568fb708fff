"""The one interface every provider speaks, and the outcomes a send can have.

A send either returns ``Accepted`` or raises one of:
- ``TransientFailure``: nothing was delivered to the provider (connection refused, 5xx, 429);
  retry later with backoff.
- ``PermanentFailure``: the provider refused for good (invalid number, unsubscribed recipient);
  ``suppress`` names the suppression reason the address deserves, if any.
- ``OutcomeUnknown``: the request may have been accepted (timeout after sending, connection
  dropped mid-answer). Never resend blindly: reconcile with ``lookup`` or hold for a person.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """What a provider needs to send one message."""

    message_id: int
    channel: str
    to: str
    body: str = ""
    subject: str = ""
    body_html: str = ""
    provider_template: str = ""
    provider_params: list[str] = field(default_factory=list)
    idempotency_key: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    status_callback: str = ""
    attempt_started_at: datetime | None = None


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str
    status: str = "sent"  # "sent", or "delivered" when the provider says so synchronously


class ProviderFailure(Exception):
    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TransientFailure(ProviderFailure):
    """Not handed over; safe to retry."""


class PermanentFailure(ProviderFailure):
    """Refused for good."""

    def __init__(self, message: str, *, code: str = "", suppress: str = "") -> None:
        super().__init__(message, code=code)
        self.suppress = suppress


class OutcomeUnknown(ProviderFailure):
    """Maybe handed over: reconcile, do not resend."""


class Provider(Protocol):
    name: str

    def send(self, message: Outgoing) -> Accepted: ...

    def lookup(self, message: Outgoing, *, taken: Collection[str] = ()) -> Accepted | None:
        """Find a message the provider accepted for us; None if it never did. ``taken``: provider
        ids already recorded on our other messages (two sends may look alike). Raises
        ``ProviderFailure`` when the provider cannot tell (then a person decides)."""
        ...
