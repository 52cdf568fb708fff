"""Background work (django-tasks; the worker is ``manage.py db_worker``). Every task is safe to
run twice at once: claims use row locks / the single SQLite writer, and keys are unique."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from django.utils import timezone
from django_tasks import task

from . import journeys, outbox


def messaging_run_once(
    *, now: datetime | None = None, dispatch: bool = True, plan_dates: bool = True
) -> dict[str, int]:
    """One round: read events, plan date triggers, advance journeys, settle lost sends, and
    dispatch what is due. What ``servicebay messaging run`` and the periodic task do. Date
    planning looks two days ahead and scans the whole customer base, so the periodic task leaves
    it to its own hourly job."""
    fixed_clock = now is not None
    now = now or timezone.now()
    summary = {
        "events": journeys.events_consume(),
        "planned": journeys.dates_plan(now=now) if plan_dates else 0,
        "advanced": 0,
        "expired_leases": outbox.outbox_expire_leases(now=now),
    }
    while True:
        advanced = journeys.enrollments_advance(now=now)
        summary["advanced"] += advanced
        if advanced < 500:
            break
    reconciled = outbox.outbox_reconcile(now=now)
    summary["reconciled"] = reconciled.sent + reconciled.retried
    if dispatch:
        # On the real clock, messages the journeys just scheduled are due too: not a round later.
        stats = outbox.outbox_drain(now=now if fixed_clock else None)
        summary.update({f"dispatch_{k}": v for k, v in asdict(stats).items() if k != "errors"})
    return summary


@task()
def messaging_run() -> dict[str, int]:
    """The periodic round (enqueued every minute by ``servicebay scheduler``)."""
    return messaging_run_once(plan_dates=False)


@task()
def messaging_plan_dates() -> int:
    """Enroll birthdays, appointment reminders and services due in the next two days (hourly)."""
    return journeys.dates_plan()


@task()
def message_dispatch(message_id: int) -> dict[str, int]:
    """Send one message right away (after ``message_send_now`` commits)."""
    stats = outbox.outbox_dispatch(message_ids=[message_id], limit=1, concurrency=1)
    return {k: v for k, v in asdict(stats).items() if k != "errors"}
