"""Event triggers: the consumer cursor over the event log (DESIGN §3)."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Max, Q

from servicebay.activity.models import Event

from ..definitions import (
    EVENT_TRIGGERS,
    EventTrigger,
)
from ..models import EventCursor, JourneyEnrollment
from .base import active_journeys, event_context, journey_enroll

CONSUMER = "journeys"


_END = 2**62  # "every id of this txid was read"


def _snapshot() -> tuple[int, int, list[int]]:
    """(xmin, xmax, in-progress txids) of the current PostgreSQL snapshot."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,"
            " ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x)"
            " FROM (SELECT pg_current_snapshot() AS s) AS snap"
        )
        xmin, xmax, xip = cursor.fetchone()
    return int(xmin), int(xmax), list(xip or [])


def _enroll_from_events(events: list[Event]) -> None:
    journeys = [(j, d) for j, d in active_journeys() if isinstance(d.trigger, EventTrigger)]
    wanted = []
    for event in events:
        if event.customer_id is None:
            continue
        subject = f"{event.subject_type}:{event.subject_id}" if event.subject_id else f"event:{event.pk}"
        for journey, definition in journeys:
            if definition.trigger.event == event.kind and event.occurred_at >= journey.activated_at:
                wanted.append((journey, event, f"{event.kind}:{subject}"))
    if not wanted:
        return
    # Events may be read more than once (at-least-once): skip what is enrolled already, in one query.
    existing = set(
        JourneyEnrollment.objects.filter(
            journey_id__in={j.pk for j, _, _ in wanted}, trigger_key__in={k for _, _, k in wanted},
        ).values_list("journey_id", "customer_id", "trigger_key")
    )
    for journey, event, key in wanted:
        if (journey.pk, event.customer_id, key) in existing:
            continue
        journey_enroll(journey=journey, customer_id=event.customer_id, trigger_key=key,
                       start_at=event.occurred_at, context=event_context(event))
        existing.add((journey.pk, event.customer_id, key))


def events_consume(*, limit: int = 1000) -> int:
    """Read new trigger events and enroll customers in the journeys they trigger; returns the
    number of events read. At-least-once, and enrolling is idempotent.

    PostgreSQL: read only events of transactions that had finished when the snapshot was taken
    (``txid < xmax`` and not in progress) in (txid, id) order. A pass over the log ends when a
    batch comes back short; the next pass restarts at the snapshot horizon (xmin) seen when this
    pass began, so an event whose transaction was still open when the scan passed it — a lower id
    committing after a higher one — is read on the next pass. SQLite: one writer, id order is
    commit order. Concurrent consumers: the second finds the cursor locked and returns 0.
    """
    EventCursor.objects.get_or_create(name=CONSUMER)
    with transaction.atomic():
        cursor = EventCursor.objects.select_for_update(skip_locked=True).filter(name=CONSUMER).first()
        if cursor is None:
            return 0
        if connection.vendor == "postgresql":
            xmin, xmax, in_progress = _snapshot()
            if cursor.cycle_xmin is None:
                cursor.cycle_xmin = xmin
            events = list(
                Event.objects.filter(txid__lt=xmax, kind__in=EVENT_TRIGGERS)
                .exclude(txid__in=in_progress)
                .filter(Q(txid__gt=cursor.last_txid) | Q(txid=cursor.last_txid, id__gt=cursor.last_id))
                .order_by("txid", "id")[:limit]
            )
        else:
            top = Event.objects.aggregate(top=Max("id"))["top"] or 0
            events = list(
                Event.objects.filter(id__gt=cursor.last_id, id__lte=top, kind__in=EVENT_TRIGGERS)
                .order_by("id")[:limit]
            )
        _enroll_from_events(events)
        if len(events) == limit:
            cursor.last_txid, cursor.last_id = (events[-1].txid or 0), events[-1].pk
        elif connection.vendor == "postgresql":
            # End of this pass: the next one starts where this one's horizon stood.
            cursor.last_txid, cursor.last_id, cursor.cycle_xmin = cursor.cycle_xmin - 1, _END, None
        else:
            cursor.last_id = top
        cursor.save(update_fields=["last_txid", "last_id", "cycle_xmin", "updated_at"])
    return len(events)
