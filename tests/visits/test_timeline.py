"""The timeline selector: filters, newest first, keyset pages, flat query count."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from servicebay.core.pagination import InvalidCursor
from servicebay.visits import selectors, services
from servicebay.visits.selectors import TimelineFilters
from tests import factories
from tests.factories import SYSTEM
from tests.visits.factories import check_in, complete, finished_visit

pytestmark = pytest.mark.django_db


def make_history(customer, location, count, *, template=None, start_days_ago=None):
    """``count`` finished visits a week apart, oldest first, each with one recommendation."""
    vehicle = factories.make_vehicle(customer, odometer=0)
    now = timezone.now()
    start = start_days_ago if start_days_ago is not None else 7 * count + 1
    visits = []
    for i in range(count):
        at = now - timedelta(days=start - 7 * i)
        visit = check_in(vehicle, location=location, odometer_in=1_000 * (i + 1), check_in_at=at)
        if template is not None:
            rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM)
            if i % 2:
                services.recommendation_decline(recommendation=rec, actor=SYSTEM)
        complete(visit.job_card)
        visits.append(services.visit_check_out(visit=visit, actor=SYSTEM, check_out_at=at + timedelta(hours=2)))
    return vehicle, visits


def test_newest_first_with_recommendation_counts(customer, location, template):
    _, visits = make_history(customer, location, 3, template=template)
    items = selectors.visit_timeline_page(customer_id=customer.pk).items
    assert [v.pk for v in items] == [v.pk for v in reversed(visits)]
    newest = items[0]  # i == 2: suggested and left open
    assert (newest.suggested_count, newest.accepted_count, newest.declined_count) == (1, 0, 0)
    assert (items[1].suggested_count, items[1].declined_count) == (0, 1)


def test_filters_by_vehicle_and_type(customer, location):
    make_history(customer, location, 2)
    van = factories.make_vehicle(customer, odometer=0)
    van_visit = finished_visit(van, location=location)
    by_vehicle = selectors.visit_timeline(customer_id=customer.pk, filters=TimelineFilters(vehicle_id=van.pk))
    assert list(by_vehicle) == [van_visit]
    scheduled = selectors.visit_timeline(customer_id=customer.pk, filters=TimelineFilters(visit_type="scheduled"))
    assert list(scheduled) == []
    walk_ins = selectors.visit_timeline(customer_id=customer.pk, filters=TimelineFilters(visit_type="walk_in"))
    assert len(walk_ins) == 3


def test_date_range_is_in_the_customers_time_zone(customer, location):
    car = factories.make_vehicle(customer, odometer=0)
    # 03:30 UTC on 2 March is still 1 March in Chicago.
    at = timezone.now().replace(month=3, day=2, hour=3, minute=30, second=0, microsecond=0)
    if at > timezone.now():
        at = at.replace(year=at.year - 1)
    visit = finished_visit(car, location=location, check_in_at=at)
    chicago = TimelineFilters(date_from=at.date().replace(day=1), date_to=at.date().replace(day=1),
                              time_zone="America/Chicago")
    utc = TimelineFilters(date_from=at.date().replace(day=1), date_to=at.date().replace(day=1))
    assert list(selectors.visit_timeline(customer_id=customer.pk, filters=chicago)) == [visit]
    assert list(selectors.visit_timeline(customer_id=customer.pk, filters=utc)) == []


def test_keyset_pages_cover_every_visit_once(customer, location):
    _, visits = make_history(customer, location, 7)
    seen, cursor = [], None
    while True:
        page = selectors.visit_timeline_page(customer_id=customer.pk, cursor=cursor, limit=3)
        seen += [v.pk for v in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [v.pk for v in reversed(visits)]


def test_pages_do_not_shift_when_a_visit_is_added(customer, location):
    car, visits = make_history(customer, location, 4)
    first = selectors.visit_timeline_page(customer_id=customer.pk, limit=2)
    finished_visit(car, location=location)  # newest: lands before page one, not inside page two
    second = selectors.visit_timeline_page(customer_id=customer.pk, cursor=first.next_cursor, limit=2)
    assert [v.pk for v in second.items] == [visits[1].pk, visits[0].pk]


def test_a_cursor_of_another_customer_is_refused(customer, location):
    make_history(customer, location, 3)
    page = selectors.visit_timeline_page(customer_id=customer.pk, limit=1)
    other = factories.make_customer()
    with pytest.raises(InvalidCursor):
        selectors.visit_timeline_page(customer_id=other.pk, cursor=page.next_cursor)


def _queries(customer_id) -> int:
    with CaptureQueriesContext(connection) as ctx:
        page = selectors.visit_timeline_page(customer_id=customer_id, limit=20)
        shown = [  # everything an entry shows
            (str(visit.vehicle), visit.location.name, visit.location.time_zone,
             visit.location.currency, visit.vehicle.odometer_unit, visit.total_spend,
             visit.satisfaction_label, visit.odometer_in, visit.get_visit_type_display(),
             visit.suggested_count, visit.accepted_count, visit.declined_count)
            for visit in page.items
        ]
    assert shown
    return len(ctx.captured_queries)


def test_a_timeline_page_is_one_query_whatever_the_history(location, template):
    small, large = factories.make_customer(), factories.make_customer()
    make_history(small, location, 2, template=template)
    make_history(large, location, 30, template=template)
    assert _queries(small.pk) == _queries(large.pk) == 1
