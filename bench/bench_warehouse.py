"""Warehouse: a full sync against dlt's own ``sql_database`` source (pyarrow backend) loading the
same tables into DuckDB, and an incremental sync after a 1% change against our own full sync."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from django.db import connection
from django.db.models import F
from django.db.models.functions import Mod

from bench.core import Context, Result
from servicebay.shop.models import Customer, JobCard, JobLine, Vehicle
from servicebay.warehouse import capture
from servicebay.warehouse.choices import RunStatus
from servicebay.warehouse.models import Change, TableState
from servicebay.warehouse.services import warehouse_sync
from servicebay.warehouse.tables import available_tables

TABLES = ["customers", "vehicles", "job_cards", "job_lines"]
FULL_RATIO = 2.0  # our full sync may take at most twice dlt's generic SQL source
INCREMENTAL_SHARE = 0.05  # DESIGN §5: incremental after a 1% change under 5% of a full sync


def _sqlalchemy_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
        return f"postgresql+psycopg://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}"


def _dlt_sql_database_full(workdir: Path) -> float:
    import dlt
    from dlt.sources.sql_database import sql_database

    tables = [t.db_table for t in available_tables(TABLES)]
    source = sql_database(credentials=_sqlalchemy_url(), table_names=tables, backend="pyarrow")
    pipeline = dlt.pipeline(
        pipeline_name="bench_sql_database", pipelines_dir=str(workdir / "dlt-baseline"),
        destination=dlt.destinations.duckdb(str(workdir / "sql_database.duckdb")), dataset_name="baseline",
    )
    started = time.perf_counter()
    pipeline.run(source, write_disposition="replace")
    return time.perf_counter() - started


def _ours(full: bool) -> tuple[float, dict]:
    started = time.perf_counter()
    run = warehouse_sync(triggered_by="bench", full=full, tables=TABLES)
    seconds = time.perf_counter() - started
    if run.status != RunStatus.SUCCEEDED:
        raise RuntimeError(f"sync failed: {run.error}")
    return seconds, run.tables


def _change_one_percent() -> int:
    changed = Customer.objects.annotate(m=Mod("id", 100)).filter(m=7).update(language="fr")
    changed += Vehicle.objects.annotate(m=Mod("id", 100)).filter(m=7).update(odometer=F("odometer") + 1)
    changed += JobCard.objects.annotate(m=Mod("id", 100)).filter(m=7).update(technician_notes="bench")
    changed += JobLine.objects.annotate(m=Mod("id", 100)).filter(m=7).update(description="bench")
    return changed


def _cleanup() -> None:
    """Leave the shared benchmark database as we found it: no triggers, no sync state."""
    for table in available_tables(TABLES):
        capture.capture_uninstall(table)
    TableState.objects.filter(table_name__in=TABLES).delete()
    Change.objects.filter(table_name__in=TABLES).delete()


def run(ctx: Context) -> list[Result]:
    workdir = Path(tempfile.mkdtemp(prefix="sb-bench-warehouse-"))
    os.environ["WAREHOUSE_DUCKDB_PATH"] = str(workdir / "warehouse.duckdb")
    os.environ["WAREHOUSE_PIPELINES_DIR"] = str(workdir / "dlt")
    os.environ["WAREHOUSE_DESTINATION"] = "duckdb"
    try:
        baseline = _dlt_sql_database_full(workdir)
        full, tables = _ours(full=True)
        rows = sum(t["upserted"] for t in tables.values())
        changed = _change_one_percent()
        incremental, inc_tables = _ours(full=False)
        loaded = sum(t["upserted"] + t["deleted"] for t in inc_tables.values())
    finally:
        _cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    return [
        Result(metric="warehouse full sync vs dlt sql_database", value=full, unit="s",
               baseline=baseline, budget_ratio=FULL_RATIO, note=f"{rows:,} rows, 4 tables"),
        Result(metric="warehouse incremental after 1% change vs our full sync", value=incremental,
               unit="s", baseline=full, budget_ratio=INCREMENTAL_SHARE,
               note=f"{changed:,} rows changed, {loaded:,} loaded", failed=loaded != changed),
    ]
