"""visit_kpis: the numbers Customer 360 shows about a customer's visits."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from servicebay.visits import selectors, services
from tests import factories
from tests.factories import SYSTEM
from tests.visits.factories import add_labor, check_in, complete, finished_visit

pytestmark = pytest.mark.django_db


def test_kpis_of_a_customer_without_visits(customer):
    kpis = selectors.visit_kpis(customer_id=customer.pk)
    assert kpis.total_visits == 0
    assert kpis.lifetime_spend == Decimal("0")
    assert kpis.average_satisfaction is None
    assert kpis.last_visit is None


def test_kpis_sum_spend_average_ratings_and_count_open_work(customer, location, template):
    car = factories.make_vehicle(customer, odometer=0)
    now = timezone.now()
    old = finished_visit(car, location=location, check_in_at=now - timedelta(days=400),
                         check_out_at=now - timedelta(days=400) + timedelta(hours=3))
    recent = check_in(car, location=location, check_in_at=now - timedelta(days=10))
    add_labor(recent.job_card, "50.00")
    services.recommendation_add(visit=recent, service_template=template, actor=SYSTEM,
                                estimated_price=Decimal("180.00"))
    complete(recent.job_card)
    services.visit_check_out(visit=recent, actor=SYSTEM)
    services.visit_rate(visit=old, score=4, actor=SYSTEM)
    services.visit_rate(visit=recent, score=5, actor=SYSTEM)
    ongoing = check_in(car, location=location)
    add_labor(ongoing.job_card, "999.00")

    kpis = selectors.visit_kpis(customer_id=customer.pk)
    assert kpis.total_visits == 3
    assert kpis.lifetime_spend == Decimal("150.00")  # the visit still in the shop is not spent yet
    assert kpis.spend_last_12_months == Decimal("50.00")
    assert kpis.average_satisfaction == Decimal("4.5")
    assert kpis.rated_visits == 2
    assert (kpis.open_recommendations, kpis.open_recommendations_value) == (1, Decimal("180.00"))
    assert kpis.last_visit == ongoing
    assert kpis.currency == "USD"


def test_kpis_take_three_queries(customer, location, django_assert_num_queries):
    finished_visit(factories.make_vehicle(customer, odometer=0), location=location)
    with django_assert_num_queries(3):
        selectors.visit_kpis(customer_id=customer.pk)
