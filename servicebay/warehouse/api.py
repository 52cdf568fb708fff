"""Warehouse sync runs over the API: read the history, queue a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from servicebay.core.api_auth import require
from servicebay.core.pagination import keyset_page
from servicebay.core.schemas import ERRORS, ErrorOut

from . import selectors
from .tasks import QUEUE_DOWN, sync_queue

router = Router(tags=["warehouse"])


class SyncRunOut(Schema):
    id: int
    status: str
    mode: str
    destination: str
    pseudonymised: bool
    started_at: datetime
    finished_at: datetime | None
    triggered_by: str
    tables: dict[str, Any]
    error: str


class SyncRunPage(Schema):
    items: list[SyncRunOut]
    next_cursor: str | None


class QueuedOut(Schema):
    queued: bool


@router.get("/warehouse/runs", response={200: SyncRunPage, **ERRORS})
def sync_run_list(request: HttpRequest, cursor: str | None = None,
                  limit: int = Query(20, ge=1, le=100)):
    """Sync runs, newest first, with rows loaded and deleted per table."""
    require(request, "warehouse.view")
    page = keyset_page(selectors.sync_run_list(), order=("-started_at", "-id"), cursor=cursor,
                       limit=limit, scope="warehouse-runs")
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/warehouse/runs", response={202: QueuedOut, 503: ErrorOut, **ERRORS})
def sync_run_queue(request: HttpRequest):
    """Queue an incremental sync for the worker (503 when the task queue cannot be reached)."""
    require(request, "warehouse.run")
    if not sync_queue():
        return Status(503, {"detail": QUEUE_DOWN})
    return Status(202, {"queued": True})
