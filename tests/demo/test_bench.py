"""The benchmark harness: results judge budgets right, and bench_shop's hand-written SQL returns
exactly the rows ``customer_search`` returns (on whichever database the tests run)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from bench import bench_shop
from bench.core import Context, Result
from servicebay.shop.models import Customer


def test_a_result_over_its_ratio_fails_and_within_passes():
    assert Result("q", value=3.0, unit="ms", baseline=2.0, budget_ratio=2.0).passed
    assert not Result("q", value=5.0, unit="ms", baseline=2.0, budget_ratio=2.0).passed


def test_a_result_over_its_absolute_ceiling_fails_whatever_the_ratio():
    assert not Result("q", value=60.0, unit="ms", baseline=59.0, budget_ratio=2.0, budget_abs=50).passed


def test_a_throughput_ratio_is_baseline_over_value():
    result = Result("t", value=100.0, unit="rows/s", baseline=300.0, budget_ratio=4.0, higher_is_better=True)
    assert result.ratio == 3.0 and result.passed


@pytest.mark.django_db
def test_shop_benchmark_raw_sql_matches_the_selector():
    call_command("seed", "--customers", "60", "--seed", "9", "--no-users",
                 "--as-of", "2026-03-02T15:30:00+00:00", stdout=io.StringIO())
    ctx = Context(customers=60, vendor=connection.vendor, database="test", repeat=1)
    for label, query in bench_shop.search_terms():
        kind = {"phone": "phone", "email": "email", "VIN": "vin"}.get(label, "name")
        found = bench_shop.orm_search(query)
        assert found, label
        assert bench_shop.raw_search(kind, query) == found, label
    throughput = bench_shop.seed_result(ctx)
    assert throughput.value > 0 and throughput.baseline > throughput.value
    assert Customer.objects.count() == 60  # the sample was rolled back
