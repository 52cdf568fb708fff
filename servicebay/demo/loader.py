"""Bulk loading of generated rows: ``executemany`` on SQLite, ``COPY … FROM STDIN`` on PostgreSQL.

The generator hands over plain tuples whose ids it chose itself, so children reference parents
without a round trip. Values are already in the database's shape: naive UTC datetimes (the
connection's time zone is UTC on both backends), ``Decimal`` money, JSON as text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.management.color import no_style
from django.db import connection, models, transaction


class TableShape:
    """The columns the generator fills for one model, plus constants for any column it does not.

    Other apps may add fields to shop models; a field the generator does not know is filled with
    its Python default (or NULL), so an additive change never breaks seeding.
    """

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        meta = model._meta
        self.model = model
        self.table = meta.db_table
        known = [meta.get_field(name) for name in fields]
        self.columns = [f.column for f in known]
        self.extra_columns: list[str] = []
        self.extra_values: tuple = ()
        extra = []
        for f in meta.concrete_fields:
            if f in known or f.null or f.db_default is not models.NOT_PROVIDED:
                continue
            if not f.has_default():
                raise LookupError(
                    f"{meta.label}.{f.name} has no default; teach servicebay.demo.generator to fill it."
                )
            extra.append(f)
        if extra:
            self.extra_columns = [f.column for f in extra]
            self.extra_values = tuple(f.get_db_prep_save(f.get_default(), connection) for f in extra)

    @property
    def all_columns(self) -> list[str]:
        return self.columns + self.extra_columns


@dataclass
class LoadStats:
    rows: dict[str, int] = field(default_factory=dict)
    write_seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


class BulkWriter:
    """Writes row batches to one table each; call inside the chunk's transaction."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.vendor = connection.vendor
        self.stats = LoadStats()
        if self.vendor not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"Seeding supports SQLite and PostgreSQL, not {self.vendor}.")
        if self.vendor == "sqlite":
            # A bigger page cache keeps index pages of the large tables in memory while loading.
            connection.connection.execute("PRAGMA cache_size = -262144")

    def write(self, shape: TableShape, rows: list[tuple], *, txid_column: str | None = None) -> None:
        """Insert ``rows``; ``txid_column`` names a column to fill with the writing transaction id."""
        if not rows:
            return
        started = time.perf_counter()
        extra = shape.extra_values
        columns = shape.all_columns
        if self.vendor == "sqlite":
            if extra:
                rows = [row + extra for row in rows]
            marks = ", ".join("?" * len(columns))
            # Table and column names come from model metadata, never from input.
            sql = f'INSERT INTO "{shape.table}" ({", ".join(columns)}) VALUES ({marks})'  # noqa: S608
            connection.connection.executemany(sql, rows)
        else:
            tail = extra
            if txid_column is not None:
                columns = [*columns, txid_column]
                tail = (*extra, self._txid())
            quoted = ", ".join(f'"{c}"' for c in columns)
            with connection.cursor() as cursor, cursor.cursor.copy(
                f'COPY "{shape.table}" ({quoted}) FROM STDIN'
            ) as copy:
                if tail:
                    for row in rows:
                        copy.write_row(row + tail)
                else:
                    for row in rows:
                        copy.write_row(row)
        self.stats.write_seconds += time.perf_counter() - started
        self.stats.rows[shape.table] = self.stats.rows.get(shape.table, 0) + len(rows)

    @contextmanager
    def without_secondary_structures(self, model_list: Sequence[type[models.Model]]) -> Iterator[None]:
        """For loads into empty tables: drop secondary indexes (and on PostgreSQL foreign keys),
        load, then build each index once and validate each foreign key with one join.

        Row-by-row index upkeep and foreign-key trigger checks cost more than the COPY itself;
        this is what ``pg_restore`` does. Unique indexes stay, so duplicates still fail at once.
        Runs inside one transaction (DDL is transactional on both databases), so a failure
        leaves every index and constraint as it was.
        """
        tables = [model._meta.db_table for model in model_list]
        if self.vendor == "sqlite":
            with transaction.atomic(), connection.cursor() as cursor:
                marks = ", ".join("%s" for _ in tables)
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "  # noqa: S608 - placeholders only
                    f"AND tbl_name IN ({marks}) AND sql NOT LIKE 'CREATE UNIQUE %%'",
                    tables,
                )
                indexes = cursor.fetchall()
                for name, _ in indexes:
                    cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
                yield
                for _, definition in indexes:
                    cursor.execute(definition)
            return
        with transaction.atomic(), connection.cursor() as cursor:
            # Dropping a foreign key needs its tables free of pending (deferred) checks, e.g. of
            # rows the caller wrote earlier in this transaction: run those checks now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid) "
                "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                "WHERE c.contype = 'f' AND t.relname = ANY(%s) AND t.relnamespace = current_schema()::regnamespace",
                [tables],
            )
            foreign_keys = cursor.fetchall()
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) "
                "AND i.indexdef NOT LIKE 'CREATE UNIQUE %%'",
                [tables],
            )
            indexes = cursor.fetchall()
            for name, table, _ in foreign_keys:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
            yield
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for _, definition in indexes:
                cursor.execute(definition)
            for name, table, definition in foreign_keys:
                cursor.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
                )
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are deferred

    @contextmanager
    def triggers_paused(self, model_list: Sequence[type[models.Model]]) -> Iterator[None]:
        """PostgreSQL: switch the tables' own triggers off for a load inside the caller's transaction.

        For row triggers that check a table-wide invariant per row (the points ledger sums), which
        cost O(rows²) on a bulk load; the caller checks the invariant once, set-based, before this
        switches them back on. DDL is transactional: other sessions never see them off.
        Foreign-key triggers are system triggers and stay on. No-op on SQLite (it has none).
        """
        if self.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            for model in model_list:
                cursor.execute(f'ALTER TABLE "{model._meta.db_table}" DISABLE TRIGGER USER')
            yield
            for model in model_list:
                cursor.execute(f'ALTER TABLE "{model._meta.db_table}" ENABLE TRIGGER USER')

    def _txid(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            return cursor.fetchone()[0]

    def finish(self, model_list: Sequence[type[models.Model]]) -> None:
        """Move id sequences past the ids we chose and refresh the planner's statistics."""
        if self.vendor == "postgresql":
            statements = connection.ops.sequence_reset_sql(no_style(), list(model_list))
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
                for model in model_list:
                    cursor.execute(f'ANALYZE "{model._meta.db_table}"')
        else:
            # SQLite's AUTOINCREMENT counter follows explicit ids by itself.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
