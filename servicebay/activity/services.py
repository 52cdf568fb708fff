"""The one way to append to the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils import timezone

from servicebay.core.actors import Actor

from .models import Event


class EventOutsideTransaction(RuntimeError):
    """``record`` was called outside the transaction of the change it describes."""


def record(
    kind: str,
    *,
    actor: Actor,
    customer=None,
    subject: models.Model | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Event:
    """Append one event in the caller's transaction; refuse to run outside one."""
    if not connection.in_atomic_block:
        raise EventOutsideTransaction(f"record({kind!r}) must run inside the change's transaction")
    event = Event(
        kind=kind,
        customer=customer,
        subject_type=subject._meta.label_lower if subject is not None else "",
        subject_id=subject.pk if subject is not None else None,
        actor=actor.label,
        actor_user=actor.user,
        occurred_at=occurred_at or timezone.now(),
        payload=payload or {},
    )
    if connection.vendor == "postgresql":
        event.txid = RawSQL("pg_current_xact_id()::text::bigint", [])
        event.save()
        event.refresh_from_db(fields=["txid"])
        return event
    event.save()
    return event
