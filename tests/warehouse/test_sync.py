import contextlib
import subprocess
import sys
from decimal import Decimal

import pytest
from django.db import connection

from servicebay.shop import services as shop
from servicebay.shop.models import Customer, Vehicle
from servicebay.warehouse.choices import RunMode, RunStatus
from servicebay.warehouse.config import warehouse_config
from servicebay.warehouse.models import Change, TableState
from servicebay.warehouse.services import SyncBusy, sync_lock, warehouse_sync
from servicebay.warehouse.tables import available_tables
from tests import factories
from tests.factories import SYSTEM
from tests.segments.helpers import complete_visit
from tests.warehouse.conftest import DATASET, source_rows, warehouse_rows

# PostgreSQL: the sync reads only below the oldest open transaction, so the test's own writes
# must be committed (a transactional test case), exactly as in production.
pytestmark = pytest.mark.django_db(transaction=True)

SHOP_TABLES = ["customers", "vehicles", "job_cards", "job_lines", "locations"]


def sync(**kwargs):
    return warehouse_sync(triggered_by="test", tables=[*SHOP_TABLES, "customer_stats"], **kwargs)


@contextlib.contextmanager
def duckdb_held_by_another_process(path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.kill()
        holder.wait()


def _populate(n: int = 100):
    location = factories.make_location()
    customers = []
    for i in range(n):
        customer = factories.make_customer(home_location=location)
        vehicle = factories.make_vehicle(customer)
        if i % 10 == 0:
            complete_visit(vehicle, amount=f"{i + 10}.50", location=location)
        customers.append(customer)
    return customers


def _assert_equal(path, names=SHOP_TABLES):
    for name in names:
        assert warehouse_rows(path, name) == source_rows(name), name


def test_full_sync_loads_every_table_equal_to_the_source(warehouse):
    _populate(30)
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.tables["customers"]["mode"] == RunMode.FULL
    assert run.tables["customers"]["upserted"] == 30
    _assert_equal(warehouse, [*SHOP_TABLES, "customer_stats"])


def test_incremental_sync_after_a_one_percent_change_loads_only_the_changed_rows(warehouse):
    customers = _populate(100)
    assert sync().status == RunStatus.SUCCEEDED
    changed = customers[::50]  # 2 of 100 customers; with their vehicles 1% of the rows
    for customer in changed:
        shop.customer_update(customer=customer, actor=SYSTEM, first_name="Renamed")
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.tables["customers"] == {"mode": RunMode.INCREMENTAL, "upserted": 2, "deleted": 0,
                                       "changes": 2}
    assert run.tables["vehicles"]["upserted"] == 0
    assert run.tables["job_cards"]["upserted"] == 0
    _assert_equal(warehouse)


def test_a_delete_propagates(warehouse):
    customers = _populate(10)
    sync()
    gone = customers[3]
    vehicle_ids = list(gone.vehicles.values_list("pk", flat=True))
    gone.delete()
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.tables["customers"]["deleted"] == 1
    assert run.tables["vehicles"]["deleted"] == len(vehicle_ids)
    _assert_equal(warehouse)
    assert gone.pk not in [r[0] for r in warehouse_rows(warehouse, "customers")]


def test_writes_that_bypass_the_orm_save_are_captured(warehouse):
    customers = _populate(5)
    sync()
    Vehicle.objects.filter(customer=customers[0]).update(odometer=99_999)
    Customer.objects.filter(pk=customers[1].pk).update(language="fr")
    run = sync()
    assert (run.tables["vehicles"]["upserted"], run.tables["customers"]["upserted"]) == (1, 1)
    _assert_equal(warehouse, ["customers", "vehicles"])


def test_an_insert_and_delete_between_runs_leaves_no_trace(warehouse):
    _populate(3)
    sync()
    temp = factories.make_customer()
    temp.delete()
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error
    _assert_equal(warehouse, ["customers"])


def test_a_failed_run_does_not_advance_the_cursor(warehouse):
    customers = _populate(5)
    sync()
    before = {s.table_name: s.cursor for s in TableState.objects.all()}
    shop.customer_update(customer=customers[0], actor=SYSTEM, last_name="Changed")
    with duckdb_held_by_another_process(warehouse):  # the load cannot open the file
        failed = sync()
    assert failed.status == RunStatus.FAILED
    assert failed.error
    assert {s.table_name: s.cursor for s in TableState.objects.all()} == before
    assert Change.objects.filter(table_name="customers").exists()
    retried = sync()
    assert retried.status == RunStatus.SUCCEEDED, retried.error
    assert retried.tables["customers"]["upserted"] == 1
    _assert_equal(warehouse, ["customers"])


def _duplicate_rows(destination, name: str, where: str = "") -> None:
    """Insert a second copy of rows already loaded into ``name`` (behind dlt's back)."""
    table = f"{DATASET}.{name}"
    destination.query(f"INSERT INTO {table} SELECT * FROM {table} {where}")


def test_the_post_load_check_finds_duplicate_keys_among_the_loaded_rows(destination):
    from servicebay.warehouse.services import TablePlan, _pipeline, duplicate_keys

    customers = _populate(3)
    sync()
    shop.customer_update(customer=customers[0], actor=SYSTEM, last_name="Again")
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error
    tables = {t.name: t for t in available_tables(["customers", "locations"])}
    merged = TablePlan(table=tables["customers"], state=None, full=False, since=None, upserted=1)
    full = TablePlan(table=tables["locations"], state=None, full=True, since=None)
    pipeline = _pipeline(warehouse_config())
    assert duplicate_keys(pipeline, [merged, full]) == {}
    _duplicate_rows(destination, "customers", f"WHERE id = {customers[0].pk}")
    _duplicate_rows(destination, "locations")
    assert duplicate_keys(pipeline, [merged, full]) == {"customers": 1, "locations": 1}


def test_a_merge_heals_a_duplicated_row_it_touches(destination):
    customers = _populate(3)
    sync()
    _duplicate_rows(destination, "customers", f"WHERE id = {customers[1].pk}")
    shop.customer_update(customer=customers[1], actor=SYSTEM, last_name="Healed")
    assert sync().status == RunStatus.SUCCEEDED
    assert destination.rows("customers") == source_rows("customers")


def test_a_second_sync_while_one_runs_is_refused(warehouse):
    cfg = warehouse_config()
    with sync_lock(cfg) as held:
        assert held
        if connection.vendor == "postgresql":
            # The advisory lock is per session: ask from a second connection.
            import psycopg

            s = connection.settings_dict
            with psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"],
                                 dbname=s["NAME"]) as other:
                assert other.execute("SELECT pg_try_advisory_lock(%s)", [0x5B0A7E57]).fetchone()[0] is False
        else:
            with pytest.raises(SyncBusy):
                warehouse_sync(triggered_by="test")


def test_pseudonymised_sync_hashes_personal_fields_consistently(destination):
    customers = _populate(4)
    run = sync(pseudonymise=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    rows = destination.query(f"SELECT id, email, first_name, birthday FROM {DATASET}.customers ORDER BY id")
    emails = {r[1] for r in rows}
    assert all(e.startswith("p_") for e in emails)
    assert not any(c.email in emails for c in customers)
    # Turning it off reloads the personal tables in clear.
    run = sync(pseudonymise=False)
    assert run.tables["customers"]["mode"] == RunMode.FULL
    assert destination.rows("customers") == source_rows("customers")


def test_money_and_time_types_survive_the_round_trip(destination):
    location = factories.make_location()
    vehicle = factories.make_vehicle(factories.make_customer(home_location=location))
    card = complete_visit(vehicle, amount="1234.56", location=location)
    sync()
    total, completed = destination.query(
        f"SELECT total, completed_at FROM {DATASET}.job_cards WHERE id = {card.pk}"
    )[0]
    assert total == Decimal("1234.56")
    assert completed == card.completed_at
