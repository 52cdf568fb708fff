from decimal import Decimal

from servicebay.activity.models import Event
from servicebay.loyalty.models import LoyaltyTransaction
from servicebay.loyalty.services import points_earn_for_job_card
from servicebay.shop.choices import JobCardStatus, Payer
from tests import factories

from .conftest import SYSTEM, balance_of, card_with_lines, ledger_sum, make_program, move


def test_completing_a_job_card_earns_points_on_customer_paid_lines(program, customer):
    card = card_with_lines(customer, ("labor", "120.00"), ("part", "37.99", {"part": factories.make_part()}))
    move(card, "completed")
    balance = balance_of(customer, program)
    assert balance.points_balance == 157
    row = balance.transactions.get()
    assert (row.type, row.points, row.reference_type, row.reference_id) == (
        "earn", 157, "shop.jobcard", str(card.pk))
    assert row.rule_version == program.current_version
    assert row.created_by == SYSTEM.label


def test_earn_ignores_tax(program, customer):
    card = card_with_lines(customer, ("labor", "100.00", {"tax_rate": Decimal("0.2")}))
    move(card, "completed")
    assert balance_of(customer, program).points_balance == 100


def test_warranty_insurance_and_fleet_lines_earn_nothing(program, customer):
    card = card_with_lines(
        customer, ("labor", "100.00"), ("labor", "300.00", {"payer": Payer.WARRANTY}),
        ("labor", "200.00", {"payer": Payer.FLEET}), ("labor", "50.00", {"payer": Payer.INSURANCE}),
    )
    move(card, "completed")
    assert balance_of(customer, program).points_balance == 100


def test_job_card_paid_entirely_by_fleet_creates_no_ledger_row(program, customer):
    card = card_with_lines(customer, ("labor", "300.00", {"payer": Payer.FLEET}))
    move(card, "completed")
    assert balance_of(customer, program).transactions.count() == 0


def test_earn_is_idempotent_under_retries(program, customer):
    card = card_with_lines(customer, ("labor", "80.00"), status=JobCardStatus.COMPLETED)
    for _ in range(3):
        points_earn_for_job_card(job_card=card, actor=SYSTEM)
    move(card, "closed")
    balance = balance_of(customer, program)
    assert balance.transactions.filter(type="earn").count() == 1
    assert balance.points_balance == 80 == ledger_sum(balance)


def test_reopen_reverses_the_earn_with_a_row_referencing_it(program, customer):
    card = card_with_lines(customer, ("labor", "80.00"), status=JobCardStatus.COMPLETED)
    move(card, "in_progress")
    balance = balance_of(customer, program)
    earn = balance.transactions.get(type="earn")
    reversal = balance.transactions.get(type="adjustment")
    assert reversal.reverses == earn
    assert reversal.points == -80
    assert balance.points_balance == 0 == ledger_sum(balance)
    assert balance.lifetime_points == 0


def test_reverse_then_recomplete_earns_on_the_new_lines(program, customer):
    card = card_with_lines(customer, ("labor", "80.00"), status=JobCardStatus.COMPLETED)
    move(card, "in_progress")
    factories.add_line(card, unit_price=Decimal("20.00"))
    move(card, "completed")
    balance = balance_of(customer, program)
    assert balance.points_balance == 100 == ledger_sum(balance)
    assert balance.transactions.filter(type="earn").count() == 2
    assert balance.lifetime_points == 100


def test_cancelling_a_completed_card_reverses_its_earn(program, customer):
    card = card_with_lines(customer, ("labor", "80.00"), status=JobCardStatus.COMPLETED)
    move(card, "cancelled")
    balance = balance_of(customer, program)
    assert balance.points_balance == 0
    assert balance.transactions.filter(reverses__isnull=False).count() == 1


def test_program_awarding_on_close_holds_points_until_paid(customer):
    program = make_program(accrual={"award_on": "closed"})
    card = card_with_lines(customer, ("labor", "80.00"), status=JobCardStatus.COMPLETED)
    assert balance_of(customer, program) is None
    move(card, "closed")
    assert balance_of(customer, program).points_balance == 80


def test_discounts_shrink_the_eligible_spend(program, customer):
    card = card_with_lines(customer, ("labor", "100.00"), ("discount", "10.00"))
    move(card, "completed")
    assert balance_of(customer, program).points_balance == 90


def test_category_bonus_and_tier_multiplier_apply(customer):
    program = make_program(accrual={"category_multipliers": {"Tires": "2"},
                                    "tier_multipliers": {"member": "1.5"}})
    tires = factories.make_template(category="Tires", price=Decimal("100.00"))
    card = card_with_lines(customer, ("labor", "100.00", {"service_template": tires}),
                           ("labor", "10.00"))
    move(card, "completed")
    # (100 * 2 + 10) * 1.5 = 315
    assert balance_of(customer, program).points_balance == 315


def test_minimum_spend_not_met_earns_nothing(customer):
    program = make_program(accrual={"minimum_spend": "50.00"})
    card = card_with_lines(customer, ("labor", "49.99"))
    move(card, "completed")
    assert balance_of(customer, program).points_balance == 0


def test_no_active_program_means_no_points(customer):
    card = card_with_lines(customer, ("labor", "80.00"), status=JobCardStatus.COMPLETED)
    assert LoyaltyTransaction.objects.count() == 0
    assert card.status == "completed"


def test_earn_records_an_event_on_the_customer(program, customer):
    card = card_with_lines(customer, ("labor", "80.00"), status=JobCardStatus.COMPLETED)
    event = Event.objects.get(kind="loyalty.earned")
    assert event.customer_id == customer.pk
    assert event.payload["points"] == 80
    assert event.payload["job_card_number"] == card.display_number


def test_crossing_a_threshold_upgrades_the_tier_and_records_it(program, customer):
    card_with_lines(customer, ("labor", "600.00"), status=JobCardStatus.COMPLETED)
    balance = balance_of(customer, program)
    assert balance.tier == "silver"
    event = Event.objects.get(kind="loyalty.tier_changed")
    assert (event.payload["from"], event.payload["to"], event.payload["direction"]) == (
        "member", "silver", "up")


def test_reversal_does_not_downgrade_unless_configured(program, customer):
    card = card_with_lines(customer, ("labor", "600.00"), status=JobCardStatus.COMPLETED)
    move(card, "in_progress")
    assert balance_of(customer, program).tier == "silver"


def test_reversal_downgrades_when_configured(customer):
    from .conftest import TIERS

    program = make_program(tiers={**TIERS, "downgrade": True})
    card = card_with_lines(customer, ("labor", "600.00"), status=JobCardStatus.COMPLETED)
    move(card, "in_progress")
    assert balance_of(customer, program).tier == "member"
    assert Event.objects.filter(kind="loyalty.tier_changed", payload__direction="down").exists()
