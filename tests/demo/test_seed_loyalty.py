"""The seeded loyalty programme and points history: what the loyalty services would have written."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from servicebay.activity.models import Event
from servicebay.core.actors import Actor
from servicebay.demo.loyalty import DEMO_RULES, PROGRAM_NAME, programmes_ensure
from servicebay.demo.services import demo_seed
from servicebay.loyalty.choices import ReferenceType, TransactionType
from servicebay.loyalty.ledger import lots_replay
from servicebay.loyalty.models import CustomerLoyaltyBalance, LoyaltyProgram, LoyaltyTransaction
from servicebay.loyalty.rules import accrual_compute, rules_parse
from servicebay.loyalty.selectors import (
    balance_drifts,
    job_card_line_inputs,
    ledger_rows,
    loyalty_summary,
    program_rules,
    redemption_cap,
    transaction_explain,
)
from servicebay.loyalty.services import points_expire_due, points_redeem, tiers_refresh
from servicebay.loyalty.services.posting import expiry_for
from servicebay.shop.choices import JobCardStatus, JobLineKind, Payer
from servicebay.shop.models import JobCard, JobLine, Location
from servicebay.shop.services import job_card_recalculate
from servicebay.visits.models import CustomerVisit

AS_OF = datetime.fromisoformat("2026-03-02T15:30:00+00:00")

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    demo_seed(customers=60, seed=5, as_of=AS_OF, with_users=True)
    return LoyaltyProgram.objects.select_related("current_version").get()


def _check_deferred_ledger_triggers() -> None:
    """On PostgreSQL, run the commit-time balance == ledger-sum triggers now (they raise)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_one_active_programme_per_currency_dated_before_the_history(seeded):
    currencies = set(Location.objects.values_list("currency", flat=True))
    programs = LoyaltyProgram.objects.filter(is_active=True)
    assert {p.currency for p in programs} == currencies == {"USD"}
    assert seeded.name == PROGRAM_NAME
    assert seeded.current_version.number == 1 and seeded.versions.count() == 1
    assert program_rules(seeded).as_json() == rules_parse(**DEMO_RULES).as_json()
    first = LoyaltyTransaction.objects.order_by("created_at").first()
    assert seeded.created_at < first.created_at and seeded.current_version.created_at < first.created_at
    assert Event.objects.filter(kind="loyalty.program_created", subject_id=seeded.pk).count() == 1
    assert not LoyaltyTransaction.objects.exclude(rule_version=seeded.current_version).exists()


def test_programmes_are_made_per_currency_and_an_active_one_is_reused():
    made = programmes_ensure(["USD", "GBP", "USD"], AS_OF)
    assert sorted(made) == ["GBP", "USD"]
    assert LoyaltyProgram.objects.get(currency="GBP").name == f"{PROGRAM_NAME} GBP"
    again = programmes_ensure(["GBP"], AS_OF)
    assert again["GBP"].id == made["GBP"].id and LoyaltyProgram.objects.count() == 2


def test_balances_equal_their_ledger_and_tiers_their_thresholds(seeded):
    assert list(balance_drifts()) == []
    _check_deferred_ledger_triggers()
    rules = program_rules(seeded)
    balances = list(CustomerLoyaltyBalance.objects.order_by("pk"))
    assert len(balances) > 40
    tiers = Counter(b.tier for b in balances)
    assert set(tiers) == {"member", "silver", "gold"}, tiers
    for balance in balances:
        rows = list(balance.transactions.order_by("pk"))
        running = 0
        for row in rows:
            running += row.points
            assert row.balance_after == running >= 0
        assert balance.points_balance == running
        assert balance.points_owed == 0
        earned = sum(r.points for r in rows if r.type == TransactionType.EARN)
        assert balance.lifetime_points == earned
        assert balance.tier == rules.tiers.level_for(earned).code
        assert [r.created_at for r in rows] == sorted(r.created_at for r in rows)
        # Expiry has caught up with the data's "now": what is left are lots not yet due.
        lots = lots_replay(ledger_rows(balance.pk))
        assert lots.total() == balance.points_balance
        assert not lots.due(AS_OF)
    # The real expiry and tier tasks, run at the data's "now", find nothing left to do.
    assert points_expire_due(now=AS_OF) == 0
    assert tiers_refresh(program=seeded, now=AS_OF) == 0
    assert list(balance_drifts()) == []


def test_earns_are_what_the_accrual_rule_awards_on_completed_cards(seeded):
    rules = program_rules(seeded)
    earns = list(LoyaltyTransaction.objects.filter(type=TransactionType.EARN).select_related("balance"))
    cards = JobCard.objects.in_bulk([int(e.reference_id) for e in earns])
    assert len(earns) > 200
    for earn in earns:
        assert earn.reference_type == ReferenceType.JOB_CARD
        card = cards[int(earn.reference_id)]
        assert card.status in (JobCardStatus.COMPLETED, JobCardStatus.CLOSED)
        assert card.customer_id == earn.balance.customer_id
        assert earn.created_at == card.completed_at
        accrual = accrual_compute(rules.accrual, job_card_line_inputs(card), tier_code=earn.details["tier"])
        assert earn.points == accrual.points > 0
        assert earn.expires_at == expiry_for(rules, card.completed_at)
        assert earn.details["job_card_number"] == card.display_number
        assert earn.idempotency_key == f"earn:{earn.balance_id}:{card.pk}:0"
        # The row explains itself: its stored lines are the card's and give its points again.
        assert [line["line_id"] for line in earn.details["lines"]] == [
            i.line_id for i in job_card_line_inputs(card)]
        assert transaction_explain(transaction=earn).consistent
    # Every completed card that earns anything earned exactly once.
    earned = Counter(e.reference_id for e in earns)
    assert set(earned.values()) == {1}
    for card in JobCard.objects.filter(status__in=[JobCardStatus.COMPLETED, JobCardStatus.CLOSED]):
        points = accrual_compute(rules.accrual, job_card_line_inputs(card)).points
        assert (str(card.pk) in earned) == (points > 0)
    assert not LoyaltyTransaction.objects.filter(
        reference_id__in=[str(pk) for pk in JobCard.objects.exclude(
            status__in=[JobCardStatus.COMPLETED, JobCardStatus.CLOSED]).values_list("pk", flat=True)]
    ).exists()


def test_redemptions_are_loyalty_discount_lines_on_their_cards(seeded):
    rules = program_rules(seeded)
    redeems = list(LoyaltyTransaction.objects.filter(type=TransactionType.REDEEM))
    assert len(redeems) >= 10
    for redeem in redeems:
        card = JobCard.objects.get(pk=int(redeem.reference_id))
        line = JobLine.objects.get(pk=redeem.job_line_id, job_card=card)
        value = Decimal(redeem.details["value"])
        assert (line.kind, line.payer, line.tax_rate, line.quantity) == (
            JobLineKind.DISCOUNT, Payer.CUSTOMER, 0, 1)
        assert line.unit_price == value == -redeem.points * rules.redemption.value_per_point
        assert -redeem.points >= rules.redemption.minimum_points
        assert -redeem.points % rules.redemption.step == 0
        assert card.started_at < redeem.created_at == line.created_at < card.completed_at
        cap, already = redemption_cap(card, rules)  # counts this redemption as already paid
        assert already == value and cap >= 0
        stored = (card.subtotal, card.discount_total, card.tax_total, card.total)
        job_card_recalculate(card)  # the loyalty line check runs too: the line is untouched
        card.refresh_from_db()
        assert (card.subtotal, card.discount_total, card.tax_total, card.total) == stored
        assert CustomerVisit.objects.get(job_card=card).total_spend == card.total
        done = Event.objects.get(kind="jobcard.completed", subject_id=card.pk)
        assert done.payload["total"] == str(card.total)
        earn = LoyaltyTransaction.objects.filter(type=TransactionType.EARN, reference_id=str(card.pk)).first()
        if earn is not None:  # the discount shrank what the card earned
            assert earn.pk > redeem.pk
            assert any(line["kind"] == "discount" for line in earn.details["lines"])


def test_adjustments_and_expiries_read_like_the_services_wrote_them(seeded):
    adjustments = list(LoyaltyTransaction.objects.filter(type=TransactionType.ADJUSTMENT))
    assert adjustments
    for row in adjustments:
        assert row.reference_type == ReferenceType.MANUAL
        assert row.notes and row.details == {"reason": row.notes}
        assert row.created_by.startswith("user:")
    expiries = list(LoyaltyTransaction.objects.filter(type=TransactionType.EXPIRE))
    assert expiries
    for row in expiries:
        assert row.created_by == "task:loyalty.expire"
        assert -row.points == sum(lot["points"] for lot in row.details["lots"])
        for lot in row.details["lots"]:
            source = LoyaltyTransaction.objects.get(pk=lot["transaction_id"])
            assert source.balance_id == row.balance_id and source.expires_at <= row.created_at


def test_every_ledger_row_and_tier_change_has_its_event(seeded):
    kinds = {TransactionType.EARN: "loyalty.earned", TransactionType.REDEEM: "loyalty.redeemed",
             TransactionType.ADJUSTMENT: "loyalty.adjusted", TransactionType.EXPIRE: "loyalty.expired"}
    rows = {r.pk: r for r in LoyaltyTransaction.objects.select_related("balance")}
    events = list(Event.objects.filter(subject_type="loyalty.loyaltytransaction"))
    assert len(events) == len(rows)
    for event in events:
        row = rows[event.subject_id]
        assert event.kind == kinds[row.type]
        assert event.occurred_at == row.created_at and event.customer_id == row.balance.customer_id
        assert event.payload["balance"] == row.balance_after and event.payload["points"] == row.points
        assert event.actor == row.created_by
    changes = Event.objects.filter(kind="loyalty.tier_changed")
    above_base = CustomerLoyaltyBalance.objects.exclude(tier="member")
    assert set(changes.values_list("subject_id", flat=True)) == set(above_base.values_list("pk", flat=True))
    for balance in above_base:
        last = changes.filter(subject_id=balance.pk).order_by("occurred_at", "id").last()
        assert last.payload["to"] == balance.tier and last.occurred_at == balance.tier_changed_at
    assert not Event.objects.filter(occurred_at__gt=AS_OF).exists()


def test_a_seeded_member_can_redeem_on_an_open_card_and_the_summary_shows_them(seeded):
    rich = CustomerLoyaltyBalance.objects.filter(points_balance__gte=200).values("customer_id")
    card = JobCard.objects.filter(customer_id__in=rich, status__in=[
        JobCardStatus.OPEN, JobCardStatus.IN_PROGRESS]).order_by("pk").first()
    balance = CustomerLoyaltyBalance.objects.get(customer_id=card.customer_id)
    summary = loyalty_summary(customer_id=card.customer_id, now=AS_OF)
    assert (summary.points_balance, summary.tier) == (balance.points_balance, balance.tier)
    row = points_redeem(job_card=card, points=200, actor=Actor.system("test"))
    assert row.balance_after == balance.points_balance - 200
    assert list(balance_drifts()) == []


def test_restore_style_load_leaves_the_ledger_triggers_on():
    demo_seed(customers=30, seed=11, as_of=AS_OF, with_users=False, restore_style=True)
    assert list(balance_drifts()) == []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT tgenabled FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid IN ('loyalty_loyaltytransaction'::regclass, "
                "'loyalty_customerloyaltybalance'::regclass)"
            )
            assert cursor.fetchall() == [("O",)]


def test_ledger_rows_of_a_balance_are_in_time_order_by_id(seeded):
    for _balance_id, rows in itertools.groupby(
        LoyaltyTransaction.objects.order_by("balance_id", "id").values_list("balance_id", "created_at"),
        key=lambda r: r[0],
    ):
        times = [t for _b, t in rows]
        assert times == sorted(times)
    assert AS_OF - timedelta(days=5 * 365) < LoyaltyTransaction.objects.order_by("id").first().created_at
