"""What the redeem form offers on a job card, and the redemptions already on it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet

from servicebay.shop.models import JobCard

from ..choices import ReferenceType, TransactionType
from ..models import CustomerLoyaltyBalance, LoyaltyProgram, LoyaltyTransaction
from ..rules import redemption_max_points
from .ledger import redemption_cap
from .programs import program_for_currency, program_rules


@dataclass(frozen=True)
class RedeemQuote:
    """What the redeem form offers on one job card."""

    job_card: JobCard
    program: LoyaltyProgram | None
    available: int
    max_points: int
    value_per_point: Decimal
    step: int
    minimum_points: int
    cap: Decimal
    already_redeemed: Decimal
    editable: bool
    reason: str = ""

    @property
    def max_value(self) -> Decimal:
        return (self.max_points * self.value_per_point).quantize(Decimal("0.01"))


def redeem_quote(*, job_card: JobCard) -> RedeemQuote:
    """How many points the customer could use on this job card right now, and why not if none."""
    program = program_for_currency(job_card.location.currency)
    if program is None:
        return RedeemQuote(job_card, None, 0, 0, Decimal("0"), 1, 0, Decimal("0"), Decimal("0"),
                           job_card.is_editable, f"No active program covers {job_card.location.currency}.")
    rules = program_rules(program)
    available = (
        CustomerLoyaltyBalance.objects.filter(customer_id=job_card.customer_id, program=program)
        .values_list("points_balance", flat=True).first()
    ) or 0
    cap, already = redemption_cap(job_card, rules)
    best = redemption_max_points(rules.redemption, available=available, cap=cap)
    reason = ""
    if not job_card.is_editable:
        reason = f"The job card is {job_card.get_status_display().lower()}; reopen it to redeem."
    elif available == 0:
        reason = "The customer has no points yet."
    elif best == 0:
        reason = "Not enough points or invoice left for the smallest redemption."
    return RedeemQuote(
        job_card, program, available, best if job_card.is_editable else 0,
        rules.redemption.value_per_point, rules.redemption.step, rules.redemption.minimum_points,
        cap, already, job_card.is_editable, reason,
    )


def job_card_redemptions(*, job_card_id: int) -> QuerySet[LoyaltyTransaction]:
    """Redeem rows on a job card with whether they were returned."""
    return (
        LoyaltyTransaction.objects.filter(
            type=TransactionType.REDEEM, reference_type=ReferenceType.JOB_CARD,
            reference_id=str(job_card_id),
        )
        .annotate(is_reversed=Exists(LoyaltyTransaction.objects.filter(reverses=OuterRef("pk"))))
        .select_related("balance__program")
        .order_by("id")
    )
