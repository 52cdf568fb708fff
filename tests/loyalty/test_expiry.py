from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from servicebay.activity.models import Event
from servicebay.loyalty.models import LoyaltyTransaction
from servicebay.loyalty.services import points_adjust, points_expire_due, points_redeem
from servicebay.loyalty.tasks import loyalty_expire_points
from servicebay.shop import services as shop
from servicebay.shop.models import JobLine

from .conftest import SYSTEM, balance_of, card_with_lines, ledger_sum, make_program

T0 = timezone.now() - timedelta(days=800)


def days(n: int):
    return T0 + timedelta(days=n)


@pytest.fixture
def expiring(db):
    return make_program(accrual={"expire_after_months": 12})


def credit(customer, program, points, at, reason="Bonus"):
    return points_adjust(customer=customer, program=program, points=points, reason=reason,
                         actor=SYSTEM, now=at)


def test_expiry_consumes_the_points_closest_to_expiry_first(expiring, customer):
    first = credit(customer, expiring, 100, days(0))
    credit(customer, expiring, 50, days(180))
    credit(customer, expiring, -30, days(200), reason="Spent")
    assert points_expire_due(now=days(370)) == 1
    balance = balance_of(customer, expiring)
    row = balance.transactions.get(type="expire")
    assert row.points == -70
    assert row.details["lots"] == [
        {"transaction_id": first.pk, "points": 70, "expires_at": first.expires_at.isoformat()}
    ]
    assert balance.points_balance == 50 == ledger_sum(balance)
    assert balance.next_expiry_at == LoyaltyTransaction.objects.get(points=50).expires_at


def test_expiry_twice_expires_nothing_more(expiring, customer):
    credit(customer, expiring, 100, days(0))
    points_expire_due(now=days(370))
    assert points_expire_due(now=days(371)) == 0
    assert LoyaltyTransaction.objects.filter(type="expire").count() == 1


def test_nothing_expires_before_its_date(expiring, customer):
    credit(customer, expiring, 100, days(0))
    assert points_expire_due(now=days(300)) == 0
    assert balance_of(customer, expiring).points_balance == 100


def test_program_without_expiry_never_expires(program, customer):
    credit(customer, program, 100, days(0))
    assert points_expire_due(now=timezone.now()) == 0
    assert balance_of(customer, program).next_expiry_at is None


def test_fully_spent_lot_expires_nothing(expiring, customer):
    credit(customer, expiring, 100, days(0))
    credit(customer, expiring, -100, days(10), reason="Spent")
    assert points_expire_due(now=days(400)) == 0
    assert balance_of(customer, expiring).next_expiry_at is None


def test_restored_redemption_returns_points_to_their_lot_and_they_expire_with_it(expiring, customer):
    credit(customer, expiring, 100, timezone.now() - timedelta(days=400))
    card = card_with_lines(customer, ("labor", "100.00"))
    row = points_redeem(job_card=card, points=100, actor=SYSTEM)  # before expiry ran
    shop.job_line_remove(line=JobLine.objects.get(pk=row.job_line_id), actor=SYSTEM)
    assert points_expire_due() == 1
    balance = balance_of(customer, expiring)
    assert balance.points_balance == 0 == ledger_sum(balance)


def test_expiry_records_an_event(expiring, customer):
    credit(customer, expiring, 100, days(0))
    points_expire_due(now=days(370))
    event = Event.objects.get(kind="loyalty.expired")
    assert event.customer_id == customer.pk
    assert event.payload["points"] == -100


def test_expire_task_and_command_run_expiry(expiring, customer):
    credit(customer, expiring, 100, timezone.now() - timedelta(days=400))
    assert loyalty_expire_points.call() == 1
    credit(customer, expiring, 10, timezone.now() - timedelta(days=399))
    out = StringIO()
    call_command("loyalty", "expire", stdout=out)
    assert "1 balance" in out.getvalue()
    assert balance_of(customer, expiring).points_balance == 0
