from decimal import Decimal

import pytest

from servicebay.activity.models import Event
from servicebay.core.errors import DomainError, InvalidTransition
from servicebay.loyalty.errors import NoActiveProgram, PointsOverdraw
from servicebay.loyalty.models import LoyaltyTransaction
from servicebay.loyalty.services import points_adjust, points_redeem
from servicebay.shop import services as shop
from servicebay.shop.choices import JobCardStatus, Payer
from servicebay.shop.models import JobLine

from .conftest import SYSTEM, balance_of, card_with_lines, ledger_sum, make_program, move


@pytest.fixture
def member(program, customer):
    """A customer holding 1,000 points (= $10.00 at a cent a point)."""
    points_adjust(customer=customer, program=program, points=1000, reason="Welcome", actor=SYSTEM)
    return customer


def test_redeem_adds_a_discount_line_and_a_redeem_row_together(program, member):
    card = card_with_lines(member, ("labor", "100.00"))
    row = points_redeem(job_card=card, points=500, actor=SYSTEM)
    line = JobLine.objects.get(pk=row.job_line_id)
    assert (line.kind, line.unit_price, line.payer) == ("discount", Decimal("5.00"), "customer")
    card.refresh_from_db()
    assert card.total == Decimal("95.00")
    assert (row.type, row.points, row.balance_after) == ("redeem", -500, 500)
    assert balance_of(member, program).points_balance == 500
    assert Event.objects.filter(kind="loyalty.redeemed", customer=member).count() == 1


def test_redeem_more_than_the_balance_is_refused(program, member):
    card = card_with_lines(member, ("labor", "100.00"))
    with pytest.raises(PointsOverdraw) as exc:
        points_redeem(job_card=card, points=1001, actor=SYSTEM)
    assert exc.value.field == "points"
    assert not card.lines.filter(kind="discount").exists()


def test_customer_without_points_cannot_redeem(program, customer):
    card = card_with_lines(customer, ("labor", "100.00"))
    with pytest.raises(PointsOverdraw):
        points_redeem(job_card=card, points=1, actor=SYSTEM)


def test_redeem_respects_minimum_and_step(customer):
    program = make_program(redemption={"minimum_points": 100, "step": 50})
    points_adjust(customer=customer, program=program, points=1000, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    with pytest.raises(DomainError, match="at least 100"):
        points_redeem(job_card=card, points=60, actor=SYSTEM)
    with pytest.raises(DomainError, match="steps of 50"):
        points_redeem(job_card=card, points=120, actor=SYSTEM)
    points_redeem(job_card=card, points=150, actor=SYSTEM)


def test_redeem_cannot_exceed_the_invoice_share(customer):
    program = make_program(redemption={"max_invoice_share": "0.5", "value_per_point": "0.10"})
    points_adjust(customer=customer, program=program, points=1000, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "40.00"))
    with pytest.raises(DomainError, match=r"at most 20\.00 USD") as exc:
        points_redeem(job_card=card, points=201, actor=SYSTEM)
    assert "200 points" in str(exc.value)
    points_redeem(job_card=card, points=150, actor=SYSTEM)
    # The cap counts what points already pay: $15 used, $5 left of the half.
    with pytest.raises(DomainError, match=r"at most 5\.00 USD"):
        points_redeem(job_card=card, points=51, actor=SYSTEM)
    points_redeem(job_card=card, points=50, actor=SYSTEM)


def test_redeem_cap_ignores_lines_the_customer_does_not_pay(program, member):
    card = card_with_lines(member, ("labor", "3.00"), ("labor", "500.00", {"payer": Payer.WARRANTY}))
    with pytest.raises(DomainError, match=r"at most 3\.00"):
        points_redeem(job_card=card, points=301, actor=SYSTEM)


def test_redeem_on_a_completed_card_is_refused(program, member):
    card = card_with_lines(member, ("labor", "100.00"), status=JobCardStatus.COMPLETED)
    with pytest.raises(InvalidTransition):
        points_redeem(job_card=card, points=100, actor=SYSTEM)


def test_redeem_without_an_active_program_is_refused(customer):
    card = card_with_lines(customer, ("labor", "100.00"))
    with pytest.raises(NoActiveProgram):
        points_redeem(job_card=card, points=1, actor=SYSTEM)


def test_removing_the_discount_line_restores_the_points(program, member):
    card = card_with_lines(member, ("labor", "100.00"))
    row = points_redeem(job_card=card, points=400, actor=SYSTEM)
    shop.job_line_remove(line=JobLine.objects.get(pk=row.job_line_id), actor=SYSTEM)
    balance = balance_of(member, program)
    assert balance.points_balance == 1000 == ledger_sum(balance)
    restore = LoyaltyTransaction.objects.get(reverses=row)
    assert (restore.type, restore.points) == ("adjustment", 400)


def test_editing_a_loyalty_discount_line_is_refused(program, member):
    card = card_with_lines(member, ("labor", "100.00"))
    row = points_redeem(job_card=card, points=400, actor=SYSTEM)
    line = JobLine.objects.get(pk=row.job_line_id)
    with pytest.raises(DomainError, match="paid with loyalty points"):
        shop.job_line_update(line=line, actor=SYSTEM, unit_price=Decimal("40.00"))
    line.refresh_from_db()
    assert line.unit_price == Decimal("4.00")


def test_a_second_redemption_leaves_the_first_discount_line_guarded(program, member):
    card = card_with_lines(member, ("labor", "100.00"))
    first = points_redeem(job_card=card, points=400, actor=SYSTEM)
    points_redeem(job_card=card, points=100, actor=SYSTEM)
    line = JobLine.objects.get(pk=first.job_line_id)
    with pytest.raises(DomainError, match="paid with loyalty points"):
        shop.job_line_update(line=line, actor=SYSTEM, unit_price=Decimal("40.00"))
    assert card.lines.filter(kind="discount").count() == 2


def test_editing_other_lines_of_a_redeemed_card_still_works(program, member):
    card = card_with_lines(member, ("labor", "100.00"))
    points_redeem(job_card=card, points=400, actor=SYSTEM)
    labor = card.lines.get(kind="labor")
    shop.job_line_update(line=labor, actor=SYSTEM, unit_price=Decimal("120.00"))


def test_cancelling_a_card_returns_its_redeemed_points(program, member):
    card = card_with_lines(member, ("labor", "100.00"))
    points_redeem(job_card=card, points=400, actor=SYSTEM)
    move(card, "cancelled")
    assert balance_of(member, program).points_balance == 1000


def test_earn_after_redeem_is_on_what_the_customer_paid(program, member):
    card = card_with_lines(member, ("labor", "100.00"))
    points_redeem(job_card=card, points=1000, actor=SYSTEM)  # $10 off
    move(card, "completed")
    balance = balance_of(member, program)
    assert balance.transactions.get(type="earn").points == 90
    assert balance.points_balance == 90


def test_idempotency_key_returns_the_first_redemption(program, member):
    card = card_with_lines(member, ("labor", "100.00"))
    first = points_redeem(job_card=card, points=300, actor=SYSTEM, idempotency_key="abc")
    again = points_redeem(job_card=card, points=300, actor=SYSTEM, idempotency_key="abc")
    assert first.pk == again.pk
    assert balance_of(member, program).points_balance == 700
    assert card.lines.filter(kind="discount").count() == 1


def test_reversing_spent_points_records_them_as_owed_and_settles_later(program, customer):
    earned = card_with_lines(customer, ("labor", "100.00"), status=JobCardStatus.COMPLETED)
    other = card_with_lines(customer, ("labor", "100.00"))
    points_redeem(job_card=other, points=80, actor=SYSTEM)
    move(earned, "cancelled")  # takes back 100 points; only 20 are left
    balance = balance_of(customer, program)
    assert (balance.points_balance, balance.points_owed) == (0, 80)
    # The next earn pays the debt first.
    card_with_lines(customer, ("labor", "130.00"), status=JobCardStatus.COMPLETED)
    balance.refresh_from_db()
    assert (balance.points_balance, balance.points_owed) == (50, 0)
    assert balance.points_balance == ledger_sum(balance)
