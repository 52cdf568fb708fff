"""The console costs the same number of queries for a customer with two visits or twenty-five."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from tests.loyalty.conftest import make_program

from .helpers import rich_history

# Ceilings, so a new panel that adds queries shows up here as a deliberate change.
CONSOLE_QUERIES = 32
API_QUERIES = 31
FEED_PAGE_QUERIES = 6


@pytest.fixture
def histories(db, brakes):
    # A top tier out of reach keeps both customers below it, so both read the same figures.
    tiers = {"basis": "lifetime", "levels": [
        {"code": "member", "name": "Member", "threshold": 0},
        {"code": "gold", "name": "Gold", "threshold": 1_000_000},
    ]}
    make_program(accrual={"expire_after_months": 24}, tiers=tiers)
    now = timezone.now()
    customers = {}
    for size in (2, 25):
        location = factories.make_location()
        customer = factories.make_customer(home_location=location)
        vehicle = factories.make_vehicle(customer)
        rich_history(customer, vehicle, location, visits=size, template=brakes, now=now)
        customers[size] = customer
    return customers


def _count(client, path: str, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    assert response.status_code == 200, response.content[:500]
    return len(queries)


def test_console_api_and_feed_cost_the_same_queries_for_short_and_long_histories(
    advisor_client, histories, django_assert_max_num_queries
):
    from servicebay.activity.models import Event

    short, long = histories[2], histories[25]
    assert Event.objects.filter(customer=long).count() > 5 * Event.objects.filter(customer=short).count()
    _count(advisor_client, f"/customer360/{short.pk}/")  # warm the session and the template caches
    for path, headers, ceiling in (
        ("/customer360/{}/", {}, CONSOLE_QUERIES),
        ("/api/v1/customers/{}/360", {}, API_QUERIES),
        ("/customer360/{}/activity/", {"HTTP_HX_REQUEST": "true"}, FEED_PAGE_QUERIES),
    ):
        counts = [_count(advisor_client, path.format(c.pk), **headers) for c in (short, long)]
        assert counts[0] == counts[1], (path, counts)
        with django_assert_max_num_queries(ceiling):
            advisor_client.get(path.format(long.pk), **headers)
