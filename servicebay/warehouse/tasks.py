"""Background warehouse sync, enqueued by the scheduler (``core.schedule``)."""

from __future__ import annotations

import logging

from django_tasks import task

from .services import SyncBusy, warehouse_sync

logger = logging.getLogger(__name__)


@task()
def warehouse_sync_task(full: bool = False) -> dict:
    """One incremental sync; a sync already running elsewhere makes this one a no-op."""
    try:
        run = warehouse_sync(triggered_by="task", full=full)
    except SyncBusy:
        logger.info("warehouse sync skipped: another sync is running")
        return {"status": "skipped"}
    return {"run": run.pk, "status": run.status, "tables": run.tables}


QUEUE_DOWN = "The task queue cannot be reached right now, so no sync was queued; try again shortly."


def sync_queue() -> bool:
    """Queue an incremental sync; False (logged) when the task queue (Redis, or the database
    backend's table) refuses it, so a person gets an answer instead of an error page."""
    try:
        warehouse_sync_task.enqueue()
    except Exception:
        logger.exception("could not queue a warehouse sync")
        return False
    return True
