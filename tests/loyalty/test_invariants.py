"""Hypothesis: the ledger invariants hold under random interleavings of everything that moves
points — completing, retrying the earn, reopening, cancelling, closing, redeeming, removing
discounts, adjusting and expiring.

Each example is a sequence of operations on one customer's job cards, run in a savepoint that is
rolled back afterwards. After every operation the balance must equal its ledger sum; at the end
every completed card must hold exactly one earn worth what its lines earn, and what the customer
holds must add up from what happened.
"""

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicebay.core.errors import DomainError
from servicebay.loyalty.ledger import LedgerRow, lots_replay
from servicebay.loyalty.models import CustomerLoyaltyBalance
from servicebay.loyalty.rules import accrual_compute
from servicebay.loyalty.selectors import job_card_line_inputs, program_rules
from servicebay.loyalty.services import (
    points_adjust,
    points_earn_for_job_card,
    points_expire_due,
    points_redeem,
)
from servicebay.shop import services as shop
from servicebay.shop.choices import JobCardStatus, Payer
from servicebay.shop.models import JobCard, JobLine
from tests import factories

from .conftest import SYSTEM, make_program

TIERS = {"basis": "lifetime", "downgrade": True, "levels": [
    {"code": "member", "name": "Member", "threshold": 0},
    {"code": "silver", "name": "Silver", "threshold": 300},
]}
EDITABLE = (JobCardStatus.OPEN, JobCardStatus.IN_PROGRESS)
WHICH = st.integers(0, 5)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.integers(1, 400), st.sampled_from([0, 0, 150])),
        st.tuples(st.just("add_labor"), WHICH, st.integers(1, 300)),
        st.tuples(st.just("complete"), WHICH),
        st.tuples(st.just("complete"), WHICH),
        st.tuples(st.just("retry_earn"), WHICH),
        st.tuples(st.just("reopen"), WHICH),
        st.tuples(st.just("cancel"), WHICH),
        st.tuples(st.just("close"), WHICH),
        st.tuples(st.just("redeem"), WHICH, st.integers(1, 600)),
        st.tuples(st.just("redeem"), WHICH, st.integers(1, 100)),
        st.tuples(st.just("remove_discount"), WHICH),
        st.tuples(st.just("adjust"), st.integers(-400, 400).filter(bool)),
        st.tuples(st.just("expire"), st.integers(1, 60)),
    ),
    min_size=12,
    max_size=30,
)


class Shop:
    """The world one example acts on, and the bookkeeping the invariants compare against."""

    def __init__(self):
        self.program = make_program(
            accrual={"expire_after_months": 1, "tier_multipliers": {"silver": "1.5"}}, tiers=TIERS
        )
        self.customer = factories.make_customer()
        self.vehicle = factories.make_vehicle(self.customer)
        self.location = factories.make_location()
        self.card_ids: list[int] = []
        self.manual = 0
        self.clock = timezone.now()
        for amount in (120, 60):
            self.open(amount, 0)

    def card(self, which: int, *statuses: str) -> JobCard | None:
        cards = JobCard.objects.filter(pk__in=self.card_ids).select_related("location").order_by("pk")
        cards = list(cards.filter(status__in=statuses) if statuses else cards)
        return cards[which % len(cards)] if cards else None

    def move(self, card: JobCard | None, status: str) -> None:
        if card is not None:
            shop.job_card_transition(job_card=card, to_status=status, actor=SYSTEM)

    def open(self, labor: int, warranty: int) -> None:
        if len(self.card_ids) >= 6:
            return
        card = factories.make_job_card(vehicle=self.vehicle, location=self.location)
        factories.add_line(card, unit_price=Decimal(labor))
        if warranty:
            factories.add_line(card, unit_price=Decimal(warranty), payer=Payer.WARRANTY)
        shop.job_card_transition(job_card=card, to_status="in_progress", actor=SYSTEM)
        self.card_ids.append(card.pk)

    def add_labor(self, which: int, amount: int) -> None:
        card = self.card(which, *EDITABLE)
        if card is not None:
            factories.add_line(card, unit_price=Decimal(amount))

    def complete(self, which: int) -> None:
        self.move(self.card(which, JobCardStatus.IN_PROGRESS), "completed")

    def retry_earn(self, which: int) -> None:
        card = self.card(which, JobCardStatus.COMPLETED, JobCardStatus.CLOSED)
        if card is not None:
            with transaction.atomic():
                points_earn_for_job_card(job_card=card, actor=SYSTEM)

    def reopen(self, which: int) -> None:
        self.move(self.card(which, JobCardStatus.COMPLETED), "in_progress")

    def cancel(self, which: int) -> None:
        self.move(self.card(which, *EDITABLE, JobCardStatus.COMPLETED), "cancelled")

    def close(self, which: int) -> None:
        self.move(self.card(which, JobCardStatus.COMPLETED), "closed")

    def redeem(self, which: int, points: int) -> None:
        card = self.card(which, *EDITABLE)
        if card is not None:
            with suppress(DomainError):  # overdraw or invoice cap: refused whole
                points_redeem(job_card=card, points=points, actor=SYSTEM)

    def remove_discount(self, which: int) -> None:
        card = self.card(which, *EDITABLE)
        line = JobLine.objects.filter(job_card=card, kind="discount").first() if card else None
        if line is not None:
            shop.job_line_remove(line=line, actor=SYSTEM)

    def adjust(self, points: int) -> None:
        with suppress(DomainError):
            points_adjust(customer=self.customer, program=self.program, points=points,
                          reason="Hypothesis", actor=SYSTEM)
            self.manual += points

    def expire(self, days: int) -> None:
        self.clock += timedelta(days=days)
        points_expire_due(now=max(self.clock, timezone.now()))

    # --- the invariants ---

    def balance(self) -> CustomerLoyaltyBalance | None:
        return CustomerLoyaltyBalance.objects.filter(customer=self.customer).first()

    def check_balance_equals_ledger(self) -> None:
        balance = self.balance()
        if balance is None:
            return
        rows = list(balance.transactions.order_by("id").values_list("points", "balance_after"))
        running = 0
        for points, after in rows:
            running += points
            assert after == running >= 0
        assert balance.points_balance == running
        assert balance.points_owed >= 0

    def check_everything(self) -> None:
        self.check_balance_equals_ledger()
        balance = self.balance()
        if balance is None:
            return
        rows = list(balance.transactions.all())
        reversed_ids = {r.reverses_id for r in rows if r.reverses_id}
        standing = [r for r in rows if r.pk not in reversed_ids]
        rules = program_rules(self.program)
        for card in JobCard.objects.filter(pk__in=self.card_ids).select_related("location"):
            earns = [r for r in standing if r.type == "earn" and r.reference_id == str(card.pk)]
            if card.status in (JobCardStatus.COMPLETED, JobCardStatus.CLOSED):
                tier = earns[0].details["tier"] if earns else balance.tier
                expected = accrual_compute(rules.accrual, job_card_line_inputs(card), tier_code=tier)
                assert [e.points for e in earns] == ([expected.points] if expected.points else [])
            else:
                assert earns == []
        earned = sum(r.points for r in standing if r.type == "earn")
        assert balance.lifetime_points == earned
        spent = -sum(r.points for r in standing if r.type == "redeem")
        expired = -sum(r.points for r in rows if r.type == "expire")
        assert balance.points_balance - balance.points_owed == earned - spent + self.manual - expired
        lots = lots_replay(LedgerRow(r.pk, r.type, r.points, r.created_at, r.expires_at, r.reverses_id)
                           for r in rows)
        assert lots.total() == balance.points_balance


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=operations)
def test_ledger_invariants_hold_under_random_operations(db, ops):
    with transaction.atomic():
        world = Shop()
        for name, *args in ops:
            getattr(world, name)(*args)
            world.check_balance_equals_ledger()
        world.check_everything()
        transaction.set_rollback(True)


@st.composite
def ledgers(draw):
    """Random valid ledgers: credits with or without expiry, debits within the balance."""
    rows, balance, at = [], 0, datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(1, draw(st.integers(1, 30)) + 1):
        at += timedelta(days=draw(st.integers(0, 40)))
        if balance == 0 or draw(st.booleans()):
            points = draw(st.integers(1, 500))
            expires = at + timedelta(days=draw(st.integers(1, 200))) if draw(st.booleans()) else None
            rows.append(LedgerRow(i, "earn", points, at, expires))
        else:
            points = -draw(st.integers(1, balance))
            rows.append(LedgerRow(i, "redeem", points, at))
        balance += rows[-1].points
    return rows, balance


@settings(max_examples=200, deadline=None)
@given(ledgers())
def test_lot_replay_accounts_for_the_balance_of_any_ledger(data):
    rows, balance = data
    lots = lots_replay(rows)
    assert lots.total() == balance
    assert all(lot.remaining >= 0 for lot in lots.lots.values())
