"""TotalSpend follows the job card: lines, discounts, reopen and re-complete — in the same transaction."""

from decimal import Decimal

import pytest
from django.db import transaction

from servicebay.shop import services as shop_services
from servicebay.shop.choices import JobCardStatus, JobLineKind
from servicebay.visits.models import CustomerVisit
from tests.factories import SYSTEM
from tests.visits.factories import add_labor, check_in, complete, finished_visit

pytestmark = pytest.mark.django_db


def _spend(visit) -> Decimal:
    return CustomerVisit.objects.values_list("total_spend", flat=True).get(pk=visit.pk)


def test_spend_follows_lines_added_changed_and_removed(vehicle, location):
    visit = check_in(vehicle, location=location)
    line = add_labor(visit.job_card, "100.00")
    assert _spend(visit) == Decimal("100.00")
    shop_services.job_line_update(line=line, actor=SYSTEM, unit_price=Decimal("150.00"))
    assert _spend(visit) == Decimal("150.00")
    add_labor(visit.job_card, "20.00")
    shop_services.job_line_remove(line=line, actor=SYSTEM)
    assert _spend(visit) == Decimal("20.00")


def test_spend_includes_discounts_and_loyalty_redemption_lines(vehicle, location):
    visit = check_in(vehicle, location=location)
    add_labor(visit.job_card, "200.00", tax_rate=Decimal("0.05"))
    shop_services.job_line_add(job_card=visit.job_card, actor=SYSTEM, kind=JobLineKind.DISCOUNT,
                               description="Loyalty redemption: 500 points", unit_price=Decimal("25.00"))
    visit.job_card.refresh_from_db()
    assert _spend(visit) == visit.job_card.total == Decimal("185.00")


def test_spend_follows_the_card_through_reopen_and_re_complete(vehicle, location):
    visit = finished_visit(vehicle, location=location)
    card = visit.job_card
    card.refresh_from_db()
    assert _spend(visit) == card.total == Decimal("100.00")
    shop_services.job_card_transition(job_card=card, to_status=JobCardStatus.IN_PROGRESS, actor=SYSTEM)
    shop_services.job_line_add(job_card=card, actor=SYSTEM, kind=JobLineKind.DISCOUNT,
                               description="Goodwill", unit_price=Decimal("30.00"))
    assert _spend(visit) == Decimal("70.00")
    add_labor(card, "45.50")
    complete(card)
    card.refresh_from_db()
    assert _spend(visit) == card.total == Decimal("115.50")


def test_spend_change_rolls_back_with_the_shop_transaction(vehicle, location):
    visit = check_in(vehicle, location=location)
    add_labor(visit.job_card, "100.00")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        add_labor(visit.job_card, "999.00")
        assert _spend(visit) == Decimal("1099.00")
        raise Boom
    assert _spend(visit) == Decimal("100.00")


def test_cancelling_the_card_zeroes_the_spend(vehicle, location):
    visit = check_in(vehicle, location=location)
    add_labor(visit.job_card, "60.00")
    shop_services.job_card_transition(job_card=visit.job_card, to_status=JobCardStatus.CANCELLED, actor=SYSTEM)
    assert _spend(visit) == Decimal("0.00")


def test_cards_without_a_visit_are_left_alone(vehicle, location):
    from tests import factories

    card = factories.make_job_card(vehicle=vehicle, location=location)
    add_labor(card, "10.00")
    complete(card)
    assert not CustomerVisit.objects.exists()
