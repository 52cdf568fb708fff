"""Reads for the warehouse status page, API and CLI."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Change, SyncRun, TableState


def sync_run_list() -> QuerySet[SyncRun]:
    """Runs, newest first."""
    return SyncRun.objects.order_by("-started_at", "-id")


def table_state_list() -> QuerySet[TableState]:
    """Every table's cursor and totals, by name."""
    return TableState.objects.select_related("last_run").order_by("table_name")


def pending_changes() -> dict[str, int]:
    """Captured changes not yet consumed by a successful run, per table."""
    from django.db.models import Count

    return dict(Change.objects.values_list("table_name").annotate(n=Count("id")).order_by())
