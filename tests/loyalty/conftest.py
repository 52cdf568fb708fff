from decimal import Decimal

import pytest

from servicebay.core.actors import Actor
from servicebay.loyalty import services
from servicebay.loyalty.models import CustomerLoyaltyBalance, LoyaltyTransaction
from servicebay.shop import services as shop
from servicebay.shop.choices import JobCardStatus
from tests import factories
from tests.browser.conftest import browser_page, chromium, screenshot  # noqa: F401 - fixtures

SYSTEM = factories.SYSTEM

ACCRUAL = {"points_per_unit": "1", "eligible_kinds": ["labor", "part"], "rounding": "down"}
REDEMPTION = {"value_per_point": "0.01", "minimum_points": 0, "step": 1, "max_invoice_share": "1"}
TIERS = {
    "basis": "lifetime",
    "levels": [
        {"code": "member", "name": "Member", "threshold": 0},
        {"code": "silver", "name": "Silver", "threshold": 500},
        {"code": "gold", "name": "Gold", "threshold": 2000},
    ],
}


def make_program(*, actor: Actor = SYSTEM, accrual=None, redemption=None, tiers=None, **kw):
    defaults = {"name": f"Rewards {next(factories._seq)}", "currency": "USD"}
    return services.program_create(
        actor=actor, accrual_rule={**ACCRUAL, **(accrual or {})},
        redemption_rule={**REDEMPTION, **(redemption or {})},
        tiers=TIERS if tiers is None else tiers, **{**defaults, **kw},
    )


def card_with_lines(customer, *lines, location=None, status=JobCardStatus.IN_PROGRESS):
    """A job card of ``customer`` with the given (kind, amount[, extra]) lines, moved to ``status``."""
    vehicle = factories.make_vehicle(customer)
    card = factories.make_job_card(vehicle=vehicle, location=location)
    for line in lines:
        kind, amount, *extra = line
        factories.add_line(card, kind=kind, unit_price=Decimal(amount), **(extra[0] if extra else {}))
    path = {
        JobCardStatus.OPEN: [],
        JobCardStatus.IN_PROGRESS: ["in_progress"],
        JobCardStatus.COMPLETED: ["in_progress", "completed"],
        JobCardStatus.CLOSED: ["in_progress", "completed", "closed"],
    }[status]
    for step in path:
        card = shop.job_card_transition(job_card=card, to_status=step, actor=SYSTEM)
    return card


def move(card, status):
    return shop.job_card_transition(job_card=card, to_status=status, actor=SYSTEM)


def balance_of(customer, program) -> CustomerLoyaltyBalance | None:
    return CustomerLoyaltyBalance.objects.filter(customer=customer, program=program).first()


def ledger_sum(balance) -> int:
    return sum(LoyaltyTransaction.objects.filter(balance=balance).values_list("points", flat=True))


@pytest.fixture
def program(db):
    return make_program()
