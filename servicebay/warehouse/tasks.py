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
