"""Periodic background work: what runs how often.

The scheduler only *enqueues* tasks; the worker runs them. Every periodic task must be safe to run
twice at once (DESIGN §4), so running several schedulers (one per machine) is harmless, only wasteful.
Apps add their jobs in ``PERIODIC`` below as "module.path:task_name" with an interval.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    task_path: str  # "servicebay.messaging.tasks:messaging_run"
    every_seconds: int

    def load(self):
        module, _, name = self.task_path.partition(":")
        return getattr(importlib.import_module(module), name)


PERIODIC: list[PeriodicJob] = [
    PeriodicJob("servicebay.messaging.tasks:messaging_run", 60),
    PeriodicJob("servicebay.messaging.tasks:messaging_plan_dates", 3600),
    PeriodicJob("servicebay.segments.tasks:segments_snapshot_due", 300),
    PeriodicJob("servicebay.warehouse.tasks:warehouse_sync_task", 900),
    PeriodicJob("servicebay.loyalty.tasks:loyalty_expire_points", 3600),
    PeriodicJob("servicebay.loyalty.tasks:loyalty_tiers_refresh", 6 * 3600),
    PeriodicJob("servicebay.core.tasks:core_task_results_tidy", 3600),
]


def due_jobs(last_run: dict[str, float], now: float) -> list[PeriodicJob]:
    """Jobs never run by this scheduler are due at once; the others once their interval passed."""
    return [
        job
        for job in PERIODIC
        if job.task_path not in last_run or now - last_run[job.task_path] >= job.every_seconds
    ]
