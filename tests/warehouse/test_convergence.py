"""Safety of the sync under failure: killed runs converge, late commits are not skipped."""

import hashlib
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from servicebay.shop import services as shop
from servicebay.warehouse.choices import RunStatus
from servicebay.warehouse.services import warehouse_sync
from tests import factories
from tests.factories import SYSTEM
from tests.segments.helpers import complete_visit
from tests.warehouse.conftest import source_rows, warehouse_rows
from tests.worker_db import Source, pg_connect

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(settings.BASE_DIR)
SOURCE_TABLE = {"customers": "shop_customer", "vehicles": "shop_vehicle", "job_cards": "shop_jobcard"}
CHECKED = {
    "customers": "id, first_name, last_name, email, language",
    "vehicles": "id, customer_id, make, model, odometer",
    "job_cards": "id, customer_id, status, total",
}


def _checksum(rows) -> tuple[int, str]:
    normalised = [tuple(str(v) for v in row) for row in rows]
    return len(rows), hashlib.sha256(repr(normalised).encode()).hexdigest()


def _sync_process(source: Source, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": source.url,
           "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
           "WAREHOUSE_PIPELINES_DIR": str(tmp_path / "dlt"), "WAREHOUSE_DESTINATION": "duckdb"}
    args = [sys.executable, "manage.py", "warehouse", "sync", "--quiet"]
    for table in CHECKED:
        args += ["--table", table]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_for_run(source: Source, process: subprocess.Popen, runs: int) -> None:
    """Until the process has started its run (its SyncRun row exists) or has ended."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if source.execute("SELECT COUNT(*) FROM warehouse_syncrun")[0][0] >= runs:
            return
        time.sleep(0.05)


@pytest.mark.slow
def test_a_sync_killed_at_random_points_converges_to_the_source(tmp_path, fault_report):
    location = factories.make_location()
    for i in range(60):
        vehicle = factories.make_vehicle(factories.make_customer(home_location=location))
        if i % 6 == 0:
            complete_visit(vehicle, amount=f"{i}.99", location=location)
    source = Source(tmp_path)
    rng = random.Random(7)
    for round_no in range(4):
        # Change 5% of customers and vehicles, delete a customer, between the killed runs.
        source.execute(f"UPDATE shop_customer SET first_name = 'R{round_no}' "
                       f"WHERE id % 20 = {round_no}")
        source.execute(f"UPDATE shop_vehicle SET odometer = odometer + {round_no + 1} "
                       f"WHERE id % 20 = {round_no + 5}")
        victim = source.execute("SELECT MAX(id) FROM shop_customer WHERE id NOT IN "
                                "(SELECT customer_id FROM shop_jobcard)")[0][0]
        source.execute(f"DELETE FROM segments_customerstats WHERE customer_id = {victim}")
        source.execute(f"DELETE FROM shop_vehicle WHERE customer_id = {victim}")
        source.execute(f"DELETE FROM activity_event WHERE customer_id = {victim}")
        source.execute(f"DELETE FROM shop_customer WHERE id = {victim}")
        process = _sync_process(source, tmp_path)
        _wait_for_run(source, process, round_no + 1)
        # Somewhere between the run's start and its commit: extract, normalise, load or checks.
        time.sleep(rng.uniform(0.0, 1.5))
        process.kill()
        process.wait()
    final = _sync_process(source, tmp_path)
    output, _ = final.communicate(timeout=120)
    assert final.returncode == 0, output
    differing = []
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        for table, columns in CHECKED.items():
            loaded = con.execute(f"SELECT {columns} FROM servicebay.{table} ORDER BY id").fetchall()
            expected = source.execute(f"SELECT {columns} FROM {SOURCE_TABLE[table]} ORDER BY id")
            if _checksum(loaded) != _checksum(expected):
                differing.append(table)
    statuses = dict(source.execute("SELECT status, COUNT(*) FROM warehouse_syncrun GROUP BY status"))
    fault_report.add("warehouse: SIGKILL during sync", runs=5, faults=4, anomalies=len(differing),
                     detail=f"runs by status {statuses}; tables differing from the source: {differing or 'none'}")
    assert not differing, differing
    assert statuses.get("abandoned", 0) >= 1, statuses  # some kills did land mid-run


def test_a_late_committing_change_is_not_skipped(warehouse):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: commit order is id order")
    customers = [factories.make_customer() for _ in range(3)]
    assert warehouse_sync(triggered_by="test", tables=["customers"]).status == RunStatus.SUCCEEDED
    with pg_connect() as late:
        late.autocommit = False
        late.execute("UPDATE shop_customer SET first_name = 'Late' WHERE id = %s", [customers[0].pk])
        # A later transaction commits first.
        shop.customer_update(customer=customers[1], actor=SYSTEM, first_name="Early")
        first = warehouse_sync(triggered_by="test", tables=["customers"])
        assert first.status == RunStatus.SUCCEEDED, first.error
        # The committed change is loaded at once; the open transaction is carried, not skipped.
        loaded = {row[0]: row[1] for row in warehouse_rows(warehouse, "customers")}
        assert loaded[customers[1].pk] == "Early"
        assert loaded[customers[0].pk] != "Late"
        late.commit()
    second = warehouse_sync(triggered_by="test", tables=["customers"])
    assert second.status == RunStatus.SUCCEEDED, second.error
    names = {row[0]: row[1] for row in warehouse_rows(warehouse, "customers")}
    assert names[customers[0].pk] == "Late"
    assert names[customers[1].pk] == "Early"
    assert warehouse_rows(warehouse, "customers") == source_rows("customers")


def test_a_long_transaction_elsewhere_does_not_hold_the_sync_back(warehouse):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL transaction ids only")
    customer = factories.make_customer()
    assert warehouse_sync(triggered_by="test", tables=["customers"]).status == RunStatus.SUCCEEDED
    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"],
                         dbname="postgres") as report:
        report.execute("SELECT pg_current_xact_id()")  # an open transaction holding an xid
        shop.customer_update(customer=customer, actor=SYSTEM, first_name="Meanwhile")
        run = warehouse_sync(triggered_by="test", tables=["customers"])
        assert run.tables["customers"]["upserted"] == 1
    assert warehouse_rows(warehouse, "customers") == source_rows("customers")
