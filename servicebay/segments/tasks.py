"""Scheduled snapshots of dynamic segments, enqueued by the scheduler (``core.schedule``)."""

from __future__ import annotations

from django_tasks import task

from servicebay.core.actors import Actor

from .services import snapshots_take_due


@task()
def segments_snapshot_due() -> list[int]:
    """Snapshot every dynamic segment whose schedule is due (safe to run concurrently)."""
    return snapshots_take_due(actor=Actor.system("task:segments"))
