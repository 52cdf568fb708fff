from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from servicebay.core.pagination import InvalidCursor
from servicebay.customer360 import selectors
from servicebay.shop import services
from tests import factories
from tests.factories import SYSTEM

from .helpers import done_card


def test_spend_counts_only_completed_and_closed_job_cards(customer, vehicle, location):
    done_card(vehicle, location, "100.00")
    done_card(vehicle, location, "50.00", status="closed")
    factories.make_job_card_in("in_progress", vehicle=vehicle, location=location)
    factories.make_job_card_in("cancelled", vehicle=vehicle, location=location)
    summary = selectors.customer_spend_summary(customer=customer, now=timezone.now())
    assert summary.total_visits == 2
    assert summary.lifetime_spend == Decimal("150.00")
    assert summary.currency == "USD"


def test_reopened_card_leaves_the_figures_until_completed_again(customer, vehicle, location):
    card = done_card(vehicle, location, "80.00")
    services.job_card_transition(job_card=card, to_status="in_progress", actor=SYSTEM)
    summary = selectors.customer_spend_summary(customer=customer, now=timezone.now())
    assert (summary.total_visits, summary.lifetime_spend, summary.last_visit_at) == (0, 0, None)


def test_spend_last_12_months_leaves_out_older_visits(customer, vehicle, location):
    now = timezone.now()
    done_card(vehicle, location, "300.00", completed_at=now - timedelta(days=400))
    recent = done_card(vehicle, location, "40.00", completed_at=now - timedelta(days=30))
    summary = selectors.customer_spend_summary(customer=customer, now=now)
    assert summary.lifetime_spend == Decimal("340.00")
    assert summary.spend_last_12_months == Decimal("40.00")
    assert summary.last_visit_at == recent.completed_at


def test_spend_in_another_currency_is_kept_apart(customer, vehicle, location):
    toronto = factories.make_location(time_zone="America/Toronto", currency="CAD")
    done_card(vehicle, location, "100.00")
    done_card(vehicle, toronto, "70.00")
    summary = selectors.customer_spend_summary(customer=customer, now=timezone.now())
    assert summary.total_visits == 2
    assert (summary.currency, summary.lifetime_spend) == ("USD", Decimal("100.00"))
    assert [(c.currency, c.lifetime_spend) for c in summary.other_currencies] == [("CAD", Decimal("70.00"))]


def test_main_currency_without_home_location_is_where_most_visits_were(db):
    customer = factories.make_customer()
    vehicle = factories.make_vehicle(customer)
    paris = factories.make_location(time_zone="Europe/Paris", currency="EUR")
    done_card(vehicle, paris, "10.00")
    done_card(vehicle, paris, "20.00")
    done_card(vehicle, factories.make_location(), "500.00")
    summary = selectors.customer_spend_summary(customer=customer, now=timezone.now())
    assert (summary.currency, summary.lifetime_spend) == ("EUR", Decimal("30.00"))


def test_monthly_series_has_every_month_oldest_first_with_real_zeros(customer, vehicle, location):
    now = datetime(2026, 6, 15, 18, tzinfo=UTC)
    done_card(vehicle, location, "120.00", completed_at=datetime(2026, 4, 10, 15, tzinfo=UTC))
    done_card(vehicle, location, "30.00", completed_at=datetime(2026, 4, 20, 15, tzinfo=UTC))
    done_card(vehicle, location, "999.00", completed_at=datetime(2023, 1, 5, tzinfo=UTC))  # too old
    series = selectors.customer_monthly_spend(
        customer_id=customer.pk, currency="USD", time_zone="America/Chicago", now=now
    )
    assert len(series) == 24
    assert series[0].month == date(2024, 7, 1) and series[-1].month == date(2026, 6, 1)
    april = next(p for p in series if p.month == date(2026, 4, 1))
    assert (april.visits, april.spend) == (2, Decimal("150.00"))
    assert sum(p.visits for p in series) == 2


def test_monthly_series_puts_a_visit_in_the_customers_local_month(customer, vehicle, location):
    # 03:00 UTC on 1 March is still 28 February in Chicago.
    done_card(vehicle, location, "60.00", completed_at=datetime(2026, 3, 1, 3, tzinfo=UTC))
    series = selectors.customer_monthly_spend(
        customer_id=customer.pk, currency="USD", time_zone="America/Chicago",
        now=datetime(2026, 3, 20, tzinfo=UTC),
    )
    by_month = {p.month: p.visits for p in series}
    assert by_month[date(2026, 2, 1)] == 1
    assert by_month[date(2026, 3, 1)] == 0


def test_next_appointment_is_the_earliest_active_future_one(customer, vehicle, location):
    later = factories.make_appointment(vehicle=vehicle, location=location, start_at=factories.future(96))
    sooner = factories.make_appointment(vehicle=vehicle, location=location, start_at=factories.future(24))
    cancelled = factories.make_appointment(vehicle=vehicle, location=location, start_at=factories.future(2))
    services.appointment_set_status(appointment=cancelled, status="cancelled", actor=SYSTEM)
    assert selectors.customer_next_appointment(customer_id=customer.pk, now=timezone.now()) == sooner
    assert later != sooner


def _events(customer, count):
    for i in range(count):
        services.note_add(customer=customer, actor=SYSTEM, body=f"note {i}")


def test_activity_is_newest_first_and_pages_without_gaps_or_repeats(customer):
    _events(customer, 7)
    seen, cursor = [], None
    while True:
        page = selectors.customer_activity(customer=customer, cursor=cursor, limit=3)
        seen += [item.event.pk for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 8  # 7 notes + customer.created
    assert seen == sorted(seen, reverse=True)


def test_activity_filters_by_family_and_by_exact_kind(customer, vehicle, location):
    _events(customer, 2)
    done_card(vehicle, location)
    notes = selectors.customer_activity(customer=customer, kinds=["note"])
    assert {item.event.kind for item in notes.items} == {"note.added"}
    cards = selectors.customer_activity(customer=customer, kinds=["jobcard"])
    assert {item.event.kind for item in cards.items} == {
        "jobcard.opened", "jobcard.started", "jobcard.completed"
    }
    both = selectors.customer_activity(customer=customer, kinds=["jobcard.completed", "vehicle.added"])
    assert sorted(item.event.kind for item in both.items) == ["jobcard.completed", "vehicle.added"]


def test_activity_cursor_is_valid_only_for_its_filter(customer):
    _events(customer, 5)
    page = selectors.customer_activity(customer=customer, kinds=["note"], limit=2)
    with pytest.raises(InvalidCursor):
        selectors.customer_activity(customer=customer, cursor=page.next_cursor, limit=2)


def test_activity_items_read_as_sentences_with_their_author(customer, advisor):
    from servicebay.core.actors import Actor

    services.note_add(customer=customer, actor=Actor.for_user(advisor), body="Loves the loaner car")
    item = selectors.customer_activity(customer=customer).items[0]
    assert (item.line.title, item.line.detail) == ("Note", "Loves the loaner car")
    assert item.actor == advisor.get_full_name()
    assert item.family.key == "note"


def test_pinned_notes_are_the_pinned_ones_newest_first(customer):
    services.note_add(customer=customer, actor=SYSTEM, body="old pin", pinned=True)
    services.note_add(customer=customer, actor=SYSTEM, body="not pinned")
    services.note_add(customer=customer, actor=SYSTEM, body="new pin", pinned=True)
    notes = selectors.customer_pinned_notes(customer_id=customer.pk)
    assert [n.body for n in notes] == ["new pin", "old pin"]


def test_vehicle_history_counts_visits_and_spend_per_vehicle(customer, vehicle, location):
    other = factories.make_vehicle(customer)
    done_card(vehicle, location, "10.00")
    done_card(vehicle, location, "15.00")
    history = selectors.customer_vehicle_history(customer_id=customer.pk, currency="USD")
    assert history[vehicle.pk].visits == 2
    assert history[vehicle.pk].spend == Decimal("25.00")
    assert other.pk not in history


def test_customer_360_composes_the_feature_apps_that_have_landed(customer, vehicle, location):
    view = selectors.customer_360(customer_id=customer.pk)
    assert view.spend.total_visits == 0
    assert view.visits is not None and view.visits.open_recommendations == 0
    assert view.consent is not None and {b.channel for b in view.consent} == {"email", "sms", "whatsapp"}
