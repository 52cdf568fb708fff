"""The journey engine: enroll customers from events and dates, walk their steps, plan dry runs.

- ``events_consume`` (events.py) reads the event log through a cursor that cannot skip a
  late-committing event (DESIGN §3): on PostgreSQL only events of finished transactions are read,
  and each pass over the log restarts at the snapshot horizon (``pg_snapshot_xmin``) seen when the
  last pass began; on SQLite the single writer makes id order commit order. The cursor moves in
  the transaction of the enrollments it produced, and enrolling is idempotent (one per journey,
  customer and trigger).
- ``dates_plan`` (planning.py) enrolls for birthdays, upcoming appointments and services due.
- ``enrollments_advance`` (steps.py) claims due enrollments (``SKIP LOCKED``) and runs their
  steps: waits set the next time, conditions may end the journey, sends put one message in the
  outbox with the idempotency key (journey, step, customer, trigger).
- manage.py: create, change, switch on/off; reports.py: dry run and attribution.
"""

from .base import ENGINE, Planned, in_holdout, journey_enroll
from .events import events_consume
from .manage import journey_create, journey_set_active, journey_update
from .planning import PLAN_AHEAD, add_months, dates_plan, plan_date_trigger
from .reports import Attribution, DryRunRow, journey_attribution, journey_dry_run, journey_stats
from .steps import enrollments_advance

__all__ = [
    "ENGINE", "PLAN_AHEAD", "Attribution", "DryRunRow", "Planned", "add_months", "dates_plan",
    "enrollments_advance", "events_consume", "in_holdout", "journey_attribution", "journey_create",
    "journey_dry_run", "journey_enroll", "journey_set_active", "journey_stats", "journey_update",
    "plan_date_trigger",
]
