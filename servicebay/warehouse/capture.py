"""Change capture: database triggers append every write of a synced table to ``Change``.

Triggers see every write — ORM saves, ``QuerySet.update()``, bulk loads, cascaded deletes — which
signals cannot. They are installed per table right before its first full load, so bulk seeding
before the first sync costs nothing. All identifiers come from model metadata, never from input.

Reading is windowed by a *position* taken when a run starts, and a table's cursor is the
position of its last successful run:
- PostgreSQL: the snapshot's ``xmax`` plus the transaction ids still in progress (``xip``). A
  window is every change whose transaction is at or above the previous ``xmax`` or was in progress
  then, and is below the new ``xmax`` and not in progress now. A transaction that commits late
  stays in the in-progress list until it has committed, so its rows are read then, never skipped
  (DESIGN §3). Unlike a bare ``pg_snapshot_xmin`` horizon, a long transaction elsewhere on the
  server (another database, a report) does not hold the sync back.
- SQLite: one writer at a time, so ``id`` order is commit order; the position is the last id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Q

from .models import Change
from .tables import WarehouseTable

CHANGE_TABLE = Change._meta.db_table


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _trigger_base(table: WarehouseTable) -> str:
    return f"sbwh_{table.db_table}"[:50]


def _sqlite_ddl(table: WarehouseTable) -> list[str]:
    base, src, pk = _trigger_base(table), _q(table.db_table), _q(table.pk)
    insert = (f"INSERT INTO {_q(CHANGE_TABLE)} (table_name, row_id, changed_at) "  # noqa: S608 - identifiers from model metadata
              f"VALUES ('{table.name}', {{row}}.{pk}, strftime('%Y-%m-%d %H:%M:%f', 'now'));")
    return [
        f"CREATE TRIGGER IF NOT EXISTS {base}_ins AFTER INSERT ON {src} "
        f"BEGIN {insert.format(row='NEW')} END",
        f"CREATE TRIGGER IF NOT EXISTS {base}_upd AFTER UPDATE ON {src} "
        f"BEGIN {insert.format(row='NEW')} END",
        f"CREATE TRIGGER IF NOT EXISTS {base}_del AFTER DELETE ON {src} "
        f"BEGIN {insert.format(row='OLD')} END",
    ]


def _postgres_ddl(table: WarehouseTable) -> list[str]:
    base, src, pk = _trigger_base(table), _q(table.db_table), _q(table.pk)
    function = f"{base}_capture"

    def body(rows: str) -> str:
        return (f"INSERT INTO {_q(CHANGE_TABLE)} (table_name, row_id, txid, changed_at) "  # noqa: S608 - identifiers from model metadata
                f"SELECT '{table.name}', {pk}, pg_current_xact_id()::text::bigint, now() "
                f"FROM {rows};")

    # Statement-level triggers with transition tables: one INSERT … SELECT per statement, so a
    # bulk write of a million rows costs one extra statement, not a million.
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' THEN {body('old_rows')} ELSE {body('new_rows')} END IF; "
        f"RETURN NULL; END $$",
        f"CREATE OR REPLACE TRIGGER {base}_ins AFTER INSERT ON {src} REFERENCING NEW TABLE AS "
        f"new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE OR REPLACE TRIGGER {base}_upd AFTER UPDATE ON {src} REFERENCING NEW TABLE AS "
        f"new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE OR REPLACE TRIGGER {base}_del AFTER DELETE ON {src} REFERENCING OLD TABLE AS "
        f"old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def capture_install(table: WarehouseTable) -> None:
    """Install (or replace) the table's change triggers; idempotent."""
    statements = _postgres_ddl(table) if connection.vendor == "postgresql" else _sqlite_ddl(table)
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def capture_uninstall(table: WarehouseTable) -> None:
    """Drop the table's change triggers (its next sync is a full load again)."""
    base = _trigger_base(table)
    with transaction.atomic(), connection.cursor() as cursor:
        for suffix in ("ins", "upd", "del"):
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {base}_{suffix} ON {_q(table.db_table)}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {base}_{suffix}")
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP FUNCTION IF EXISTS {base}_capture()")


def capture_installed(table: WarehouseTable) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE %s",
                           [f"{_trigger_base(table)}_%"])
        else:
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                           [f"{_trigger_base(table)}_%"])
        return cursor.fetchone()[0] >= 3


@dataclass(frozen=True)
class Position:
    """Where the change log stands: ``upto`` (xmax / last id) and the transactions in progress."""

    upto: int
    in_progress: tuple[int, ...] = ()


def position() -> Position:
    """The change-log position now (see the module docstring)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_snapshot_xmax(s)::text::bigint, "
                "ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) x ORDER BY 1) "
                "FROM (SELECT pg_current_snapshot() AS s) q"
            )
            upto, in_progress = cursor.fetchone()
            return Position(int(upto), tuple(int(x) for x in in_progress or ()))
    return Position(Change.objects.aggregate(m=Max("id"))["m"] or 0)


def _window(since: Position, upto: Position) -> Q:
    if connection.vendor == "postgresql":
        after = Q(txid__gte=since.upto)
        if since.in_progress:
            after |= Q(txid__in=since.in_progress)
        window = after & Q(txid__lt=upto.upto)
        if upto.in_progress:
            window &= ~Q(txid__in=upto.in_progress)
        return window
    return Q(id__gt=since.upto, id__lte=upto.upto)


def changes_count(table: WarehouseTable, *, since: Position, upto: Position) -> int:
    return Change.objects.filter(_window(since, upto), table_name=table.name).count()


def changed_ids(table: WarehouseTable, *, since: Position, upto: Position) -> Iterator[int]:
    """Distinct ids of the table's rows written or deleted inside the window, ascending."""
    qs = (
        Change.objects.filter(_window(since, upto), table_name=table.name)
        .order_by("row_id")
        .values_list("row_id", flat=True)
        .distinct()
    )
    return qs.iterator(chunk_size=10_000)


def changes_prune(table: WarehouseTable, *, upto: Position) -> int:
    """Delete the table's changes a successful run has consumed (everything before ``upto``)."""
    if connection.vendor == "postgresql":
        consumed = Q(txid__lt=upto.upto)
        if upto.in_progress:
            consumed &= ~Q(txid__in=upto.in_progress)
    else:
        consumed = Q(id__lte=upto.upto)
    deleted, _ = Change.objects.filter(consumed, table_name=table.name).delete()
    return deleted
