from pathlib import Path

import duckdb
import pytest

from servicebay.warehouse.tables import available_tables


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


def warehouse_rows(path: Path, name: str) -> list[tuple]:
    table = table_spec(name)
    columns = ", ".join(f'"{f.attname}"' for f in table.fields())
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            f'SELECT {columns} FROM servicebay."{name}" ORDER BY "{table.pk}"'
        ).fetchall()


def checksum(rows: list[tuple]) -> str:
    import hashlib

    return hashlib.sha256(repr(rows).encode()).hexdigest()
