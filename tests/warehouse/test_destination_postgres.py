"""The warehouse sync into a real PostgreSQL destination (``WAREHOUSE_DESTINATION=postgres``).

Whatever the source database of the run (SQLite or PostgreSQL), dlt loads into a fresh database of
its own on 127.0.0.1:5432 (``pg_warehouse``). Without that server these tests skip — on CI they fail.
The checks that hold for every destination (post-load duplicate check, merge healing a duplicate,
pseudonymisation, money and time) are parametrized over DuckDB and PostgreSQL in test_sync.py.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from servicebay.shop import services as shop
from servicebay.shop.models import Customer, JobCard
from servicebay.warehouse.choices import RunMode, RunStatus
from servicebay.warehouse.services import warehouse_sync
from servicebay.warehouse.tables import available_tables
from tests import factories
from tests.factories import SYSTEM
from tests.segments.helpers import complete_visit
from tests.warehouse.conftest import DATASET, source_rows, table_spec

pytestmark = pytest.mark.django_db(transaction=True)


def _populate(n: int) -> list[Customer]:
    location = factories.make_location()
    customers = []
    for i in range(n):
        # Blank text (time_zone "") beside NULLs (birthday): the destination must keep them apart.
        customer = factories.make_customer(home_location=location, time_zone="" if i % 2 else "Europe/Paris")
        vehicle = factories.make_vehicle(customer)
        if i % 5 == 0:
            complete_visit(vehicle, amount=f"{i + 10}.05", location=location)
        customers.append(customer)
    return customers


def _assert_equal(pg_warehouse, names: list[str]) -> None:
    for name in names:
        assert pg_warehouse.rows(name) == source_rows(name), name


def _row_versions(pg_warehouse, name: str) -> dict[int, str]:
    """Each loaded row's ``xmin``: the transaction that last wrote it, so a row rewritten changes it."""
    pk = table_spec(name).pk
    return dict(pg_warehouse.query(f'SELECT "{pk}", xmin::text FROM {DATASET}."{name}"'))


def test_full_sync_loads_every_table_equal_to_the_source(pg_warehouse):
    _populate(20)
    run = warehouse_sync(triggered_by="test")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.destination == "postgres"
    names = [t.name for t in available_tables()]
    assert set(run.tables) == set(names)
    assert all(summary["mode"] == RunMode.FULL for summary in run.tables.values())
    _assert_equal(pg_warehouse, names)
    blank, null = pg_warehouse.query(
        f"SELECT COUNT(*) FILTER (WHERE time_zone = ''), COUNT(*) FILTER (WHERE time_zone IS NULL) "
        f"FROM {DATASET}.customers"
    )[0]
    assert (blank, null) == (10, 0)


def test_incremental_sync_moves_only_the_changed_inserted_and_deleted_rows(pg_warehouse):
    customers = _populate(20)
    assert warehouse_sync(triggered_by="test").status == RunStatus.SUCCEEDED
    before = {name: _row_versions(pg_warehouse, name) for name in ("customers", "vehicles", "job_cards")}

    updated = customers[1:3]
    for customer in updated:
        shop.customer_update(customer=customer, actor=SYSTEM, last_name="Renamed")
    inserted = factories.make_customer(time_zone="")
    deleted = customers[7].pk
    deleted_vehicles = set(customers[7].vehicles.values_list("pk", flat=True))
    customers[7].delete()
    factories.make_customer().delete()  # inserted and deleted between runs: leaves no trace

    run = warehouse_sync(triggered_by="test")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.tables["customers"] == {"mode": RunMode.INCREMENTAL, "upserted": 3, "deleted": 2,
                                       "changes": 6}
    assert run.tables["vehicles"]["deleted"] == len(deleted_vehicles)
    assert run.tables["job_cards"]["upserted"] == 0
    _assert_equal(pg_warehouse, [t.name for t in available_tables()])

    after = {name: _row_versions(pg_warehouse, name) for name in before}
    moved = {pk for pk, xmin in after["customers"].items() if before["customers"].get(pk) != xmin}
    assert moved == {c.pk for c in updated} | {inserted.pk}
    assert set(before["customers"]) - set(after["customers"]) == {deleted}
    assert set(before["vehicles"]) - set(after["vehicles"]) == deleted_vehicles
    assert after["vehicles"].items() <= before["vehicles"].items()
    assert after["job_cards"] == before["job_cards"]


def test_money_and_time_round_trip_exactly(pg_warehouse):
    location = factories.make_location()
    vehicle = factories.make_vehicle(factories.make_customer(home_location=location))
    card = complete_visit(vehicle, amount="1234.50", location=location)
    # Microseconds, on the last instant before Europe's clocks went forward.
    opened = datetime(2021, 3, 28, 0, 59, 59, 999_999, tzinfo=UTC)
    JobCard.objects.filter(pk=card.pk).update(opened_at=opened, discount_total=Decimal("0.01"))
    card.refresh_from_db()
    run = warehouse_sync(triggered_by="test", tables=["job_cards"])
    assert run.status == RunStatus.SUCCEEDED, run.error

    total, discount, opened_at, completed_at = pg_warehouse.query(
        f"SELECT total, discount_total, opened_at, completed_at FROM {DATASET}.job_cards "
        f"WHERE id = {card.pk}"
    )[0]
    assert (str(total), str(discount)) == ("1234.50", "0.01")  # value and scale
    assert (opened_at, completed_at) == (opened, card.completed_at)
    columns = dict((name, rest) for name, *rest in pg_warehouse.query(
        "SELECT column_name, data_type, numeric_precision, numeric_scale, datetime_precision "
        f"FROM information_schema.columns WHERE table_schema = '{DATASET}' AND table_name = 'job_cards'"
    ))
    money = JobCard._meta.get_field("total")
    assert columns["total"][:3] == ["numeric", money.max_digits, money.decimal_places]
    assert columns["opened_at"][0] == "timestamp with time zone"
    assert columns["opened_at"][3] == 6


def test_a_failed_full_reload_leaves_the_destination_as_it_was(pg_warehouse):
    customers = _populate(6)
    assert warehouse_sync(triggered_by="test", tables=["customers"]).status == RunStatus.SUCCEEDED
    loaded = pg_warehouse.rows("customers")
    # The destination refuses one value, so the reload fails while dlt writes the table.
    pg_warehouse.query(f"ALTER TABLE {DATASET}.customers ADD CONSTRAINT no_refused "
                       "CHECK (last_name <> 'Refused')")
    shop.customer_update(customer=customers[0], actor=SYSTEM, last_name="Refused")

    failed = warehouse_sync(triggered_by="test", tables=["customers"], full=True)
    assert failed.status == RunStatus.FAILED
    assert pg_warehouse.rows("customers") == loaded

    pg_warehouse.query(f"ALTER TABLE {DATASET}.customers DROP CONSTRAINT no_refused")
    retried = warehouse_sync(triggered_by="test", tables=["customers"])
    assert retried.status == RunStatus.SUCCEEDED, retried.error
    _assert_equal(pg_warehouse, ["customers"])
