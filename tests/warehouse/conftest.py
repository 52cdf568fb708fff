import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest
from psycopg import sql

from servicebay.warehouse.tables import available_tables
from tests.conftest import on_ci

DATASET = "servicebay"
# The PostgreSQL destination of tests/warehouse/test_destination_postgres.py (trust auth).
PG_DESTINATION = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


@pytest.fixture
def warehouse(settings, tmp_path) -> Path:
    """A private DuckDB file and dlt folder for one test."""
    path = tmp_path / "warehouse.duckdb"
    settings.WAREHOUSE_DUCKDB_PATH = str(path)
    settings.WAREHOUSE_PIPELINES_DIR = str(tmp_path / "dlt")
    settings.WAREHOUSE_DESTINATION = "duckdb"
    settings.WAREHOUSE_PSEUDONYMISE = "false"
    return path


def table_spec(name: str):
    return next(t for t in available_tables() if t.name == name)


def source_rows(name: str) -> list[tuple]:
    """The source table as the warehouse should hold it: every column, ordered by key."""
    from servicebay.warehouse.tables import column_converter

    table = table_spec(name)
    fields = table.fields()
    converters = [column_converter(f) for f in fields]
    rows = table.model()._base_manager.order_by(table.pk).values_list(*[f.attname for f in fields])
    return [tuple(c(v) if c else v for c, v in zip(converters, row, strict=True)) for row in rows]


def select_table(name: str) -> str:
    """The SQL (DuckDB and PostgreSQL alike) reading a loaded table like ``source_rows``."""
    table = table_spec(name)
    columns = ", ".join(f'"{f.attname}"' for f in table.fields())
    return f'SELECT {columns} FROM {DATASET}."{name}" ORDER BY "{table.pk}"'


def warehouse_rows(path: Path, name: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(select_table(name)).fetchall()


class DuckDBWarehouse:
    """The DuckDB file of the ``warehouse`` fixture, read and written around dlt."""

    label = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, name: str) -> list[tuple]:
        return warehouse_rows(self.path, name)

    def query(self, statement: str) -> list[tuple]:
        with duckdb.connect(str(self.path)) as con:
            return con.execute(statement).fetchall()


class PostgresWarehouse:
    """One test's PostgreSQL destination database, read and written with psycopg around dlt.

    Sessions run in UTC, so ``timestamptz`` values come back as aware UTC datetimes like the source's.
    """

    label = "postgres"

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname

    @property
    def url(self) -> str:
        # dlt refuses a URL without a password; under trust auth any string does.
        d = PG_DESTINATION
        return f"postgresql://{d['user']}:trust@{d['host']}:{d['port']}/{self.dbname}"

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(**PG_DESTINATION, dbname=self.dbname, autocommit=True,
                               options="-c TimeZone=UTC")

    def rows(self, name: str) -> list[tuple]:
        return self.query(select_table(name))

    def query(self, statement: str) -> list[tuple]:
        with self.connect() as con:
            cursor = con.execute(statement)
            return cursor.fetchall() if cursor.description else []


def _pg_admin() -> psycopg.Connection:
    """An autocommit connection to the destination server's maintenance database, or skip/fail."""
    d = PG_DESTINATION
    try:
        return psycopg.connect(**d, dbname="postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = (f"PostgreSQL at {d['host']}:{d['port']} is unreachable: the postgres-destination "
                  f"warehouse tests need it ({str(exc).strip().splitlines()[0]})")
        if on_ci():
            pytest.fail(f"{reason} — required when CI=true", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def pg_warehouse(settings, tmp_path, monkeypatch) -> Iterator[PostgresWarehouse]:
    """A fresh PostgreSQL destination database for one test (dropped after it), the sync aimed at it.

    Named per xdist worker plus a random suffix, so parallel workers never share one.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    destination = PostgresWarehouse(f"sb_whdest_{worker}_{secrets.token_hex(4)}")
    with _pg_admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(destination.dbname)))
    settings.WAREHOUSE_DESTINATION = "postgres"
    settings.WAREHOUSE_PIPELINES_DIR = str(tmp_path / "dlt")
    settings.WAREHOUSE_DATASET = DATASET
    settings.WAREHOUSE_PSEUDONYMISE = "false"
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", destination.url)
    try:
        yield destination
    finally:
        with _pg_admin() as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()", [destination.dbname])
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(destination.dbname)))


@pytest.fixture(params=["duckdb", "postgres"])
def destination(request) -> DuckDBWarehouse | PostgresWarehouse:
    """The sync aimed at a private DuckDB file, then at a private PostgreSQL database."""
    if request.param == "duckdb":
        return DuckDBWarehouse(request.getfixturevalue("warehouse"))
    return request.getfixturevalue("pg_warehouse")


def checksum(rows: list[tuple]) -> str:
    import hashlib

    return hashlib.sha256(repr(rows).encode()).hexdigest()
