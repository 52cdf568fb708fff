"""Warehouse sync bookkeeping: the change log, per-table cursors and the runs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .choices import RunMode, RunStatus


class Change(models.Model):
    """One row written or deleted in a synced table, appended by a database trigger.

    Triggers (``capture.py``) catch every write, however it was made: ORM saves, ``update()``,
    bulk loads, cascades, raw SQL. On PostgreSQL ``txid`` is the writing transaction's id, so a
    sync reads only below the oldest in-flight transaction and never skips a late commit
    (DESIGN §3); on SQLite commits are serial and ``id`` order is commit order.
    """

    table_name = models.CharField(max_length=64)
    row_id = models.BigIntegerField()
    txid = models.BigIntegerField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["table_name", "txid"], name="whchange_table_txid"),
            models.Index(fields=["table_name", "id"], name="whchange_table_id"),
        ]

    def __str__(self) -> str:
        return f"{self.table_name}#{self.row_id}"


class TableState(models.Model):
    """How far one warehouse table has been loaded: its change cursor after the last success."""

    table_name = models.CharField(max_length=64, unique=True)
    # The change-log position of the last success (capture.Position): xmax / last id, and the
    # transactions that were still in progress then (PostgreSQL).
    cursor = models.BigIntegerField(default=0)
    cursor_in_progress = models.JSONField(default=list, blank=True)
    pseudonymised = models.BooleanField(default=False)
    full_loaded_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey("SyncRun", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    rows_loaded_total = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["table_name"]

    def __str__(self) -> str:
        return f"{self.table_name} @ {self.cursor}"

    @property
    def position(self):
        from .capture import Position

        return Position(self.cursor, tuple(self.cursor_in_progress or ()))


class SyncRun(models.Model):
    """One ``servicebay warehouse sync``: what it loaded, and whether it succeeded."""

    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    mode = models.CharField(max_length=12, choices=RunMode.choices, default=RunMode.INCREMENTAL)
    destination = models.CharField(max_length=200)
    pseudonymised = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    triggered_by = models.CharField(max_length=64)
    # {"customers": {"mode": "incremental", "upserted": 12, "deleted": 1, "changes": 15}, ...}
    tables = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["-started_at", "-id"], name="syncrun_latest")]

    def __str__(self) -> str:
        return f"sync {self.pk} {self.status}"

    @property
    def rows_upserted(self) -> int:
        return sum(t.get("upserted", 0) for t in self.tables.values())

    @property
    def rows_deleted(self) -> int:
        return sum(t.get("deleted", 0) for t in self.tables.values())

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None
