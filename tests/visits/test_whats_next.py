"""What's next: open recommendations, intervals due by date or predicted mileage, recovered work."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from servicebay.shop.models import JobCard
from servicebay.visits import selectors, services
from servicebay.visits.choices import IntervalStatus
from tests import factories
from tests.factories import SYSTEM
from tests.visits.factories import add_labor, check_in, complete, finished_visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def commuter(customer):
    return factories.make_vehicle(customer, odometer=5_000)


def _history(vehicle, location, oil_change, now):
    """Readings 1,000 miles a month apart; the oil was changed at the last visit (13,000)."""
    for days_ago, odometer in ((90, 10_000), (60, 11_000), (30, 12_000)):
        at = now - timedelta(days=days_ago)
        finished_visit(vehicle, location=location, odometer_in=odometer, check_in_at=at,
                       check_out_at=at + timedelta(hours=2))
    visit = check_in(vehicle, location=location, odometer_in=13_000, check_in_at=now)
    add_labor(visit.job_card, "49.95", service_template=oil_change)
    complete(visit.job_card)
    services.visit_check_out(visit=visit, actor=SYSTEM)
    return visit


def test_mileage_is_fitted_from_every_check_in_reading(commuter, location, oil_change):
    now = timezone.now()
    _history(commuter, location, oil_change, now)
    result = selectors.whats_next(customer_id=commuter.customer_id, now=now)
    mileage = result.mileage[commuter.pk]
    assert [r.odometer for r in mileage.readings] == [10_000, 11_000, 12_000, 13_000]
    assert mileage.fit.per_day == pytest.approx(1000 / 30)


def test_oil_change_falls_due_by_predicted_mileage_before_the_date(commuter, location, oil_change):
    now = timezone.now()
    _history(commuter, location, oil_change, now)
    [item] = selectors.whats_next(customer_id=commuter.customer_id, now=now).intervals
    assert item.template == oil_change
    assert item.last_odometer == 13_000
    assert item.due_odometer == 18_000
    assert item.basis == "mileage"
    expected = (now + timedelta(days=150)).date()
    assert abs((item.due_on - expected).days) <= 1
    assert item.predicted.plus_minus_days == pytest.approx(0, abs=1e-6)
    assert item.status == IntervalStatus.UPCOMING


@pytest.mark.parametrize(
    ("days_later", "status"),
    [(100, IntervalStatus.UPCOMING), (140, IntervalStatus.DUE_SOON), (160, IntervalStatus.OVERDUE)],
)
def test_interval_status_moves_with_time(commuter, location, oil_change, days_later, status):
    now = timezone.now()
    _history(commuter, location, oil_change, now)
    [item] = selectors.whats_next(
        customer_id=commuter.customer_id, now=now + timedelta(days=days_later)
    ).intervals
    assert item.status == status


def test_interval_falls_due_by_date_when_the_car_barely_moves(customer, location, oil_change):
    vehicle = factories.make_vehicle(customer, odometer=1_000)
    now = timezone.now()
    finished_visit(vehicle, location=location, odometer_in=1_000, check_in_at=now - timedelta(days=100))
    visit = check_in(vehicle, location=location, odometer_in=1_100, check_in_at=now)
    add_labor(visit.job_card, "49.95", service_template=oil_change)
    complete(visit.job_card)
    [item] = selectors.whats_next(customer_id=customer.pk, now=now + timedelta(days=200)).intervals
    assert item.basis == "date"
    assert item.due_by_date == selectors._add_months(timezone.localdate(now), 6)
    assert item.status == IntervalStatus.OVERDUE


def test_kilometre_vehicles_use_the_km_interval(customer, location):
    template = factories.make_template(name="Inspection", interval_months=None,
                                       interval_miles=None, interval_km=15_000)
    vehicle = factories.make_vehicle(customer, odometer=20_000, odometer_unit="km")
    visit = check_in(vehicle, location=location, odometer_in=20_000)
    add_labor(visit.job_card, "80.00", service_template=template)
    complete(visit.job_card)
    [item] = selectors.whats_next(customer_id=customer.pk).intervals
    assert (item.due_odometer, item.distance_unit) == (35_000, "km")


def test_open_recommendations_show_measurement_and_age(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM,
                                      measured_value="pads 3 mm")
    services.recommendation_decline(recommendation=rec, actor=SYSTEM)
    accepted = services.recommendation_add(
        visit=visit, service_template=factories.make_template(name="Wipers"), actor=SYSTEM
    )
    services.recommendation_accept(recommendation=accepted, actor=SYSTEM)
    later = rec.created_at + timedelta(days=40, hours=1)
    result = selectors.whats_next(customer_id=vehicle.customer_id, now=later)
    [item] = result.open_recommendations
    assert item.recommendation == rec
    assert item.recommendation.measured_value == "pads 3 mm"
    assert item.age_days == 40


def test_whats_next_is_a_fixed_number_of_queries(commuter, location, oil_change, django_assert_max_num_queries):
    now = timezone.now()
    _history(commuter, location, oil_change, now)
    with django_assert_max_num_queries(7):
        selectors.whats_next(customer_id=commuter.customer_id, now=now)


def test_recovered_value_sums_estimates(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM,
                                      estimated_price=Decimal("210.00"))
    services.recommendation_decline(recommendation=rec, actor=SYSTEM)
    services.recommendation_accept(recommendation=rec, actor=SYSTEM)
    result = selectors.whats_next(customer_id=vehicle.customer_id)
    assert (result.recovered_count, result.recovered_value) == (1, Decimal("210.00"))


def test_mileage_keeps_each_vehicles_newest_readings_of_both_sources(commuter, location, oil_change):
    now = timezone.now()
    _history(commuter, location, oil_change, now)
    card = factories.make_job_card(vehicle=commuter, location=location, odometer_in=13_500)
    JobCard.objects.filter(pk=card.pk).update(opened_at=now + timedelta(days=15))
    readings = selectors.vehicle_odometer_readings(vehicle_ids=[commuter.pk], limit=3)[commuter.pk]
    assert [(r.odometer, r.source) for r in readings] == [
        (12_000, "visit"), (13_000, "visit"), (13_500, "job card"),
    ]


def test_open_total_counts_beyond_the_newest_shown(vehicle, location):
    visit = check_in(vehicle, location=location)
    shown = selectors.OPEN_RECOMMENDATIONS_SHOWN
    for n in range(shown + 2):
        services.recommendation_add(visit=visit, service_template=factories.make_template(name=f"Item {n}"),
                                    actor=SYSTEM)
    result = selectors.whats_next(customer_id=vehicle.customer_id)
    assert (len(result.open_recommendations), result.open_total) == (shown, shown + 2)
