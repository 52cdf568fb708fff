"""``warehouse_sync``: load what changed since the last successful run into the warehouse.

One run:
1. takes the sync lock (PostgreSQL advisory lock / a file lock on SQLite — both vanish with a
   killed process), so two syncs never overlap;
2. installs change capture on tables loaded for the first time, then takes the change-log
   position (``capture.position``);
3. extracts, as Arrow tables, every row of new tables (``replace``) and, for the others, the
   current state of the rows that changed inside the window, with tombstones for the rows that
   no longer exist (``merge`` on the primary key, hard delete);
4. loads them with dlt in one package, then checks the loaded tables for duplicate keys;
5. only then, in one transaction, moves every table's cursor to that position and prunes the
   consumed changes.

A run that fails or is killed anywhere before 5 leaves the cursors where they were: the next run
re-reads the same window (plus what came after) and converges, because loading the current
state of a row by key is idempotent.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from servicebay.core.errors import Conflict

from . import capture
from .choices import RunMode, RunStatus
from .config import WarehouseConfig, warehouse_config
from .models import SyncRun, TableState
from .tables import DELETED, WarehouseTable, available_tables, rows_to_arrow

logger = logging.getLogger(__name__)

FULL_BATCH = 50_000
CHANGED_BATCH = 50_000
LOCK_KEY = 0x5B_0A7E_57  # the PostgreSQL advisory lock of the warehouse sync
# dlt loads Arrow tables into Postgres through CSV COPY with FORCE_NULL on every nullable column,
# which reads an empty string as NULL; INSERT … VALUES keeps '' and NULL apart.
LOADER_FILE_FORMAT = {"postgres": "insert_values"}

Progress = Callable[[str, int, int | None], None]  # (table, rows done now, total or None)


class SyncBusy(Conflict):
    """Another sync holds the lock."""


class DuplicateKeys(RuntimeError):
    """A post-load check found a primary key twice in a warehouse table."""


@contextlib.contextmanager
def sync_lock(cfg: WarehouseConfig) -> Iterator[bool]:
    """Yield True when this process now holds the one warehouse-sync lock, else False."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            held = bool(cursor.fetchone()[0])
        try:
            yield held
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        return
    cfg.pipelines_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.pipelines_dir / "sync.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pseudonymiser(cfg: WarehouseConfig, table: WarehouseTable):
    """Replace personal columns with keyed hashes (strings) or the first of the year (dates)."""
    personal = set(table.personal)

    def hash_text(value: str | None) -> str | None:
        if not value:
            return value
        digest = hmac.new(cfg.pseudonym_key, value.encode(), hashlib.sha256).hexdigest()
        return f"p_{digest[:32]}"

    def transform(field, values: list) -> list:
        if field.attname not in personal:
            return values
        if field.get_internal_type() == "DateField":
            return [date(v.year, 1, 1) if v else v for v in values]
        return [hash_text(v) for v in values]

    return transform


@dataclass
class TablePlan:
    table: WarehouseTable
    state: TableState
    full: bool
    since: capture.Position
    upserted: int = 0
    deleted: int = 0
    changes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"mode": RunMode.FULL if self.full else RunMode.INCREMENTAL,
                "upserted": self.upserted, "deleted": self.deleted, "changes": self.changes}


def _values(table: WarehouseTable):
    model = table.model()
    return model._base_manager.order_by(table.pk).values_list(*[f.attname for f in table.fields()])


def _fetch(queryset) -> list[tuple]:
    """The rows of a ``values_list`` queryset, as fast as the driver can give them.

    On PostgreSQL the ORM's compiled SQL runs on a binary-format psycopg cursor: its C loaders
    turn timestamps into datetimes many times faster than the text loader Django installs (which
    parses every timestamp in Python), and the values already have the types Arrow wants.
    """
    if connection.vendor != "postgresql":
        return list(queryset)
    import psycopg

    sql, params = queryset.query.sql_with_params()
    connection.ensure_connection()
    # Django's own cursors bind client-side, which rules out binary results: use a plain one.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


def _extract_full(plan: TablePlan, transform, progress: Progress | None) -> Iterator[Any]:
    table = plan.table
    total = table.model()._base_manager.count()
    if progress:
        progress(table.name, 0, total)
    pk_index = next(i for i, f in enumerate(table.fields()) if f.primary_key)
    last = None
    emitted = False
    while True:
        qs = _values(table)
        if last is not None:
            qs = qs.filter(**{f"{table.pk}__gt": last})
        rows = _fetch(qs[:FULL_BATCH])
        if not rows and emitted:
            return
        emitted = True
        # An empty first batch still yields the (empty) table, so ``replace`` empties it.
        yield rows_to_arrow(table, rows, transform=transform)
        plan.upserted += len(rows)
        if progress:
            progress(table.name, len(rows), total)
        if len(rows) < FULL_BATCH:
            return
        last = rows[-1][pk_index]


def _pk_in(table: WarehouseTable, ids: list[int]) -> Q:
    """``pk IN ids`` — on PostgreSQL as one array parameter instead of thousands of placeholders."""
    if connection.vendor == "postgresql":
        return Q(**{f"{table.pk}__in": RawSQL("SELECT unnest(%s::bigint[])", [ids])})
    return Q(**{f"{table.pk}__in": ids})


def _extract_changes(plan: TablePlan, upto: capture.Position, transform,
                     progress: Progress | None) -> Iterator[Any]:
    table = plan.table
    plan.changes = capture.changes_count(table, since=plan.since, upto=upto)
    if progress:
        progress(table.name, 0, plan.changes)
    ids = capture.changed_ids(table, since=plan.since, upto=upto)
    pk_index = next(i for i, f in enumerate(table.fields()) if f.primary_key)
    batch: list[int] = []

    def flush(batch: list[int]):
        rows = _fetch(_values(table).filter(_pk_in(table, batch)))
        present = {row[pk_index] for row in rows}
        gone = [pk for pk in batch if pk not in present]
        plan.upserted += len(rows)
        plan.deleted += len(gone)
        if progress:
            progress(table.name, len(batch), plan.changes)
        return rows_to_arrow(table, rows, deleted_ids=gone, transform=transform)

    for pk in ids:
        batch.append(pk)
        if len(batch) >= CHANGED_BATCH:
            yield flush(batch)
            batch = []
    if batch:
        yield flush(batch)


def _pipeline(cfg: WarehouseConfig):
    import dlt
    from dlt.common.destination import Destination

    # A full reload, like a merge, lands in the staging dataset and then replaces the table in one
    # transaction. dlt's default (truncate-and-insert) empties the table before loading: a reload
    # failing half-way would leave it empty, and the next, incremental, run adds only the changes.
    if cfg.destination == "duckdb":
        cfg.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        destination = dlt.destinations.duckdb(str(cfg.duckdb_path),
                                              replace_strategy="insert-from-staging")
    else:
        destination = Destination.from_reference(cfg.destination,
                                                 replace_strategy="insert-from-staging")
    cfg.pipelines_dir.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name="servicebay_warehouse", destination=destination, dataset_name=cfg.dataset,
        pipelines_dir=str(cfg.pipelines_dir),
    )


def _resource(plan: TablePlan, upto: capture.Position, transform, progress: Progress | None):
    import dlt

    table = plan.table
    if plan.full:
        data = _extract_full(plan, transform, progress)
        return dlt.resource(data, name=table.name, primary_key=table.pk,
                            write_disposition="replace")
    data = _extract_changes(plan, upto, transform, progress)
    return dlt.resource(data, name=table.name, primary_key=table.pk, write_disposition="merge",
                        columns={DELETED: {"hard_delete": True}})


def duplicate_keys(pipeline, plans: list[TablePlan]) -> dict[str, int]:
    """Per loaded table, how many primary-key values occur more than once (0 is healthy).

    A full load checks the whole table; a merge checks only the keys it loaded (still in dlt's
    staging table), since only a load can bring a duplicate in.
    """
    found: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for plan in plans:
            if not plan.full and not (plan.upserted or plan.deleted):
                continue
            name = client.make_qualified_table_name(plan.table.name)
            pk = client.escape_column_name(plan.table.pk)
            sql = f"SELECT COUNT(*) - COUNT(DISTINCT {pk}) FROM {name}"  # noqa: S608 - identifiers from model metadata
            if not plan.full:
                with client.with_staging_dataset():
                    staging = client.make_qualified_table_name(plan.table.name)
                sql += f" WHERE {pk} IN (SELECT {pk} FROM {staging})"  # noqa: S608
            rows = client.execute_sql(sql)
            extra = int(rows[0][0]) if rows else 0
            if extra:
                found[plan.table.name] = extra
    return found


def _abandon_stale_runs() -> None:
    # We hold the lock, so a run still marked running belongs to a process that died.
    SyncRun.objects.filter(status=RunStatus.RUNNING).update(
        status=RunStatus.ABANDONED, finished_at=timezone.now(),
        error="The sync process ended before finishing (killed or crashed).",
    )


def _plans(tables: list[WarehouseTable], cfg: WarehouseConfig, full: bool) -> list[TablePlan]:
    plans = []
    for table in tables:
        state, _ = TableState.objects.get_or_create(table_name=table.name)
        needs_full = (full or state.full_loaded_at is None or state.pseudonymised != cfg.pseudonymise
                      or not capture.capture_installed(table))
        if needs_full:
            capture.capture_install(table)
        plans.append(TablePlan(table=table, state=state, full=needs_full, since=state.position))
    return plans


def warehouse_sync(
    *,
    triggered_by: str,
    full: bool = False,
    tables: list[str] | None = None,
    pseudonymise: bool | None = None,
    destination: str | None = None,
    progress: Progress | None = None,
) -> SyncRun:
    """Run one sync (see the module docstring). Returns the run, succeeded or failed.

    Raises ``SyncBusy`` when another sync is running.
    """
    cfg = warehouse_config(pseudonymise=pseudonymise, destination=destination)
    chosen = available_tables(tables)
    with sync_lock(cfg) as held:
        if not held:
            raise SyncBusy("Another warehouse sync is running.", field="sync")
        _abandon_stale_runs()
        run = SyncRun.objects.create(
            mode=RunMode.FULL if full else RunMode.INCREMENTAL, destination=cfg.label,
            pseudonymised=cfg.pseudonymise, triggered_by=triggered_by,
        )
        plans: list[TablePlan] = []
        try:
            plans = _plans(chosen, cfg, full)
            upto = capture.position()
            pipeline = _pipeline(cfg)
            if pipeline.has_pending_data:
                # Left by a killed run; our cursors were not moved, so this run re-extracts it.
                pipeline.abort_packages()
            resources = [
                _resource(plan, upto, pseudonymiser(cfg, plan.table) if cfg.pseudonymise else None,
                          progress)
                for plan in plans
            ]
            pipeline.run(resources, loader_file_format=LOADER_FILE_FORMAT.get(cfg.destination))
            duplicates = duplicate_keys(pipeline, plans)
            if duplicates:
                raise DuplicateKeys(
                    "Duplicate primary keys after load: "
                    + ", ".join(f"{name} ({n})" for name, n in sorted(duplicates.items()))
                )
            _commit(run, plans, upto, cfg)
        except Exception as exc:
            logger.exception("warehouse sync %s failed", run.pk)
            SyncRun.objects.filter(pk=run.pk).update(
                status=RunStatus.FAILED, finished_at=timezone.now(),
                error=f"{type(exc).__name__}: {exc}"[:5000],
                tables={p.table.name: p.summary() for p in plans},
            )
        run.refresh_from_db()
        return run


@transaction.atomic
def _commit(run: SyncRun, plans: list[TablePlan], upto: capture.Position,
            cfg: WarehouseConfig) -> None:
    """Advance every cursor and close the run, together (step 5)."""
    now = timezone.now()
    for plan in plans:
        state = plan.state
        state.cursor = upto.upto
        state.cursor_in_progress = list(upto.in_progress)
        state.last_synced_at = now
        state.last_run = run
        state.pseudonymised = cfg.pseudonymise
        state.rows_loaded_total += plan.upserted + plan.deleted
        if plan.full:
            state.full_loaded_at = now
        state.save()
        capture.changes_prune(plan.table, upto=upto)
    run.status = RunStatus.SUCCEEDED
    run.finished_at = now
    run.tables = {p.table.name: p.summary() for p in plans}
    run.save(update_fields=["status", "finished_at", "tables"])
