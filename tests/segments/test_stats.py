from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from servicebay.segments.models import CustomerStats
from servicebay.segments.services import customer_stats_rebuild, customer_stats_refresh
from servicebay.shop import services as shop
from tests import factories
from tests.factories import SYSTEM
from tests.segments.helpers import complete_visit

pytestmark = pytest.mark.django_db


def _snapshot_stats() -> dict[int, tuple]:
    return {
        s.customer_id: (s.lifetime_spend, s.visit_count, s.first_visit_at, s.last_visit_at,
                        s.open_recommendations, s.loyalty_tier, s.loyalty_points)
        for s in CustomerStats.objects.all()
    }


def test_new_customer_gets_an_empty_stats_row():
    customer = factories.make_customer()
    stats = CustomerStats.objects.get(customer=customer)
    assert (stats.lifetime_spend, stats.visit_count, stats.last_visit_at) == (Decimal("0"), 0, None)


def test_completing_a_job_card_adds_a_visit_and_its_spend(vehicle):
    card = complete_visit(vehicle, amount="120.50")
    stats = CustomerStats.objects.get(customer=vehicle.customer)
    assert stats.visit_count == 1
    assert stats.lifetime_spend == Decimal("120.50")
    assert stats.last_visit_at is not None
    assert card.total == Decimal("120.50")


def test_reopening_a_completed_card_takes_the_visit_back(vehicle):
    complete_visit(vehicle, amount="80.00")
    card = complete_visit(vehicle, amount="20.00")
    shop.job_card_transition(job_card=card, to_status="in_progress", actor=SYSTEM)
    stats = CustomerStats.objects.get(customer=vehicle.customer)
    assert (stats.visit_count, stats.lifetime_spend) == (1, Decimal("80.00"))


def test_cancelling_a_completed_card_takes_the_visit_back(vehicle):
    card = complete_visit(vehicle, amount="55.00")
    shop.job_card_transition(job_card=card, to_status="cancelled", actor=SYSTEM)
    stats = CustomerStats.objects.get(customer=vehicle.customer)
    assert (stats.visit_count, stats.lifetime_spend) == (0, Decimal("0"))


def test_closed_cards_still_count(vehicle):
    complete_visit(vehicle, amount="10.00", close=True)
    assert CustomerStats.objects.get(customer=vehicle.customer).visit_count == 1


def test_open_card_is_not_a_visit(vehicle):
    factories.make_job_card(vehicle=vehicle)
    assert CustomerStats.objects.get(customer=vehicle.customer).visit_count == 0


def test_stats_change_rolls_back_with_the_failed_write(vehicle):
    from django.db import transaction

    card = factories.make_job_card(vehicle=vehicle)
    shop.job_line_add(job_card=card, actor=SYSTEM, kind="labor", description="x",
                      unit_price=Decimal("30"))
    shop.job_card_transition(job_card=card, to_status="in_progress", actor=SYSTEM)
    with pytest.raises(RuntimeError), transaction.atomic():
        shop.job_card_transition(job_card=card, to_status="completed", actor=SYSTEM)
        assert CustomerStats.objects.get(customer=vehicle.customer).visit_count == 1
        raise RuntimeError("boom")
    assert CustomerStats.objects.get(customer=vehicle.customer).visit_count == 0


def test_incremental_stats_equal_a_full_rebuild(location):
    now = timezone.now()
    for i in range(6):
        vehicle = factories.make_vehicle(factories.make_customer(home_location=location))
        for j in range(i % 3 + 1):
            card = complete_visit(vehicle, amount=f"{10 * (i + 1) + j}.25",
                                  opened_at=now - timedelta(days=30 * j + i))
            if (i + j) % 4 == 0:
                shop.job_card_transition(job_card=card, to_status="in_progress", actor=SYSTEM)
    factories.make_customer()
    incremental = _snapshot_stats()
    CustomerStats.objects.all().delete()
    processed = customer_stats_rebuild(batch_size=3)
    assert processed == len(incremental)
    assert _snapshot_stats() == incremental


def test_rebuild_command_repairs_drifted_rows(vehicle):
    complete_visit(vehicle, amount="42.00")
    CustomerStats.objects.filter(customer=vehicle.customer).update(visit_count=99, lifetime_spend=0)
    call_command("segments", "rebuild-stats", "--batch-size", "10")
    stats = CustomerStats.objects.get(customer=vehicle.customer)
    assert (stats.visit_count, stats.lifetime_spend) == (1, Decimal("42.00"))


def test_refresh_without_create_leaves_a_missing_row_missing(customer):
    CustomerStats.objects.filter(customer=customer).delete()
    assert customer_stats_refresh(customer_id=customer.pk, create=False) is None
    assert not CustomerStats.objects.filter(customer=customer).exists()


def test_deleting_a_customer_with_visits_removes_its_stats(vehicle):
    complete_visit(vehicle)
    customer = vehicle.customer
    customer.delete()
    assert not CustomerStats.objects.filter(customer_id=customer.pk).exists()


def test_open_recommendations_follow_the_visits_services(vehicle, location):
    from servicebay.visits.services import (
        recommendation_accept,
        recommendation_add,
        recommendation_decline,
        visit_check_in,
    )

    visit = visit_check_in(actor=SYSTEM, location=location, vehicle=vehicle)
    first = recommendation_add(visit=visit, service_template=factories.make_template(), actor=SYSTEM)
    recommendation_add(visit=visit, service_template=factories.make_template(), actor=SYSTEM)
    stats = lambda: CustomerStats.objects.get(customer=vehicle.customer)  # noqa: E731
    assert stats().open_recommendations == 2
    recommendation_decline(recommendation=first, actor=SYSTEM)
    assert stats().open_recommendations == 2  # declined work stays open for a follow-up
    recommendation_accept(recommendation=first, actor=SYSTEM)
    assert stats().open_recommendations == 1


def _loyalty_stats(customer) -> tuple[str, int]:
    stats = CustomerStats.objects.get(customer=customer)
    return stats.loyalty_tier, stats.loyalty_points


def test_loyalty_columns_follow_every_program_and_equal_a_full_rebuild(vehicle):
    from servicebay.loyalty import services as loyalty
    from tests.loyalty.conftest import make_program

    customer = vehicle.customer
    usd = make_program(currency="USD")
    eur = make_program(currency="EUR")
    complete_visit(vehicle, amount="2500.00", location=factories.make_location(currency="USD"))
    assert _loyalty_stats(customer) == ("gold", 2500)  # the earn, inside the completion
    loyalty.points_adjust(customer=customer, program=eur, points=700, reason="welcome", actor=SYSTEM)
    assert _loyalty_stats(customer) == ("gold", 3200)  # summed over programs, tier of the largest
    loyalty.points_adjust(customer=customer, program=usd, points=-2000, reason="fix", actor=SYSTEM)
    # USD keeps gold on 500 points; EUR's 700 (adjusted, so still a member) is now the largest.
    assert _loyalty_stats(customer) == ("member", 1200)
    incremental = _snapshot_stats()
    CustomerStats.objects.all().delete()
    customer_stats_rebuild(batch_size=10)
    assert _snapshot_stats() == incremental


def test_a_balance_change_reads_no_visits_or_job_cards(customer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from servicebay.loyalty import services as loyalty
    from tests.loyalty.conftest import make_program

    program = make_program()
    loyalty.points_adjust(customer=customer, program=program, points=10, reason="enrol", actor=SYSTEM)
    with CaptureQueriesContext(connection) as queries:
        loyalty.points_adjust(customer=customer, program=program, points=5, reason="more", actor=SYSTEM)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "segments_customerstats" in sql
    assert "shop_jobcard" not in sql and "visits_" not in sql
    assert _loyalty_stats(customer) == ("member", 15)


def test_loyalty_refresh_creates_a_missing_row_whole_and_delete_never_does(vehicle):
    from servicebay.loyalty.models import CustomerLoyaltyBalance
    from servicebay.segments.services.stats import customer_stats_loyalty_refresh
    from tests.loyalty.conftest import make_program

    customer = vehicle.customer
    make_program()
    complete_visit(vehicle, amount="40.00")
    CustomerStats.objects.filter(customer=customer).delete()
    assert customer_stats_loyalty_refresh(customer_id=customer.pk, create=False) is False
    assert not CustomerStats.objects.filter(customer=customer).exists()
    assert customer_stats_loyalty_refresh(customer_id=customer.pk) is True
    stats = CustomerStats.objects.get(customer=customer)
    assert (stats.visit_count, stats.lifetime_spend, stats.loyalty_points) == (1, Decimal("40.00"), 40)
    empty = CustomerLoyaltyBalance.objects.create(customer=customer, program=make_program(currency="EUR"))
    assert _loyalty_stats(customer) == ("member", 40)
    empty.delete()
    assert _loyalty_stats(customer) == ("member", 40)
