"""The warehouse status page: the last runs, rows per table, what is waiting to be synced."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from servicebay.core.views import permission_required

from . import selectors
from .config import warehouse_config
from .tables import available_tables
from .tasks import QUEUE_DOWN, sync_queue


@require_GET
@permission_required("warehouse.view")
def warehouse_status(request: HttpRequest) -> HttpResponse:
    runs = list(selectors.sync_run_list()[:20])
    states = {s.table_name: s for s in selectors.table_state_list()}
    pending = selectors.pending_changes()
    tables = [
        {"name": t.name, "state": states.get(t.name), "pending": pending.get(t.name, 0),
         "last": (runs[0].tables.get(t.name) if runs else None)}
        for t in available_tables()
    ]
    return render(request, "warehouse/status.html", {
        "runs": runs, "tables": tables, "config": warehouse_config(),
        "last_success": next((r for r in runs if r.status == "succeeded"), None),
    })


@require_POST
@permission_required("warehouse.run")
def warehouse_sync_now(request: HttpRequest) -> HttpResponse:
    if sync_queue():
        messages.success(request, "A sync was queued; the worker runs it in a moment.")
    else:
        messages.error(request, QUEUE_DOWN)
    return redirect("warehouse:status")
