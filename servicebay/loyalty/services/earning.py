"""Earning on completed job cards, and taking the points back when the work is undone."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef
from django.utils import timezone

from servicebay.core.actors import Actor
from servicebay.shop.choices import JobCardStatus
from servicebay.shop.models import JobCard

from ..choices import AwardOn, ReferenceType, TransactionType
from ..models import CustomerLoyaltyBalance, LoyaltyTransaction
from ..rules import accrual_compute
from ..selectors import job_card_line_inputs, job_card_rows, program_rules
from .posting import (
    balance_lock,
    balance_save,
    credit_row,
    expiry_for,
    post_row,
    program_balance_lock,
)
from .tiers import tier_apply


def points_earn_for_job_card(
    *, job_card: JobCard, actor: Actor, now: datetime | None = None
) -> LoyaltyTransaction | None:
    """Award a completed (or closed) job card's points, once, however often this is retried.

    Runs inside the shop's transition transaction. A card that was reopened and completed again
    earns again — its earlier earn was reversed — so the idempotency key counts completions.
    """
    now = now or timezone.now()
    program, balance = program_balance_lock(job_card=job_card)
    if program is None:
        return None
    rules = program_rules(program)
    if job_card.status == JobCardStatus.COMPLETED and rules.accrual.award_on == AwardOn.CLOSED:
        return None
    if balance is None:
        balance = balance_lock(customer_id=job_card.customer_id, program=program, create=True, rules=rules)
    earns = list(
        job_card_rows(job_card.pk, TransactionType.EARN).filter(balance=balance)
        .values_list(Exists(LoyaltyTransaction.objects.filter(reverses=OuterRef("pk"))), flat=True)
    )
    if not all(earns):  # an earn that was not reversed stands: this completion has earned
        return None
    accrual = accrual_compute(rules.accrual, job_card_line_inputs(job_card), tier_code=balance.tier)
    if accrual.points <= 0:
        return None
    row = credit_row(
        balance, type=TransactionType.EARN, points=accrual.points, actor=actor, now=now,
        reference_type=ReferenceType.JOB_CARD, reference_id=str(job_card.pk),
        expires_at=expiry_for(rules, now),
        idempotency_key=f"earn:{balance.pk}:{job_card.pk}:{len(earns)}",
        notes=f"Job card {job_card.display_number}",
        details={
            "job_card_number": job_card.display_number, "tier": balance.tier,
            "lines": [line.as_json() for line in (r.line for r in accrual.lines)],
            "eligible_spend": str(accrual.eligible_spend), "currency": program.currency,
        },
    )
    balance.lifetime_points += accrual.points
    tier_apply(balance, rules, actor, now)
    balance_save(balance)
    return row


def points_reverse_for_job_card(
    *, job_card: JobCard, actor: Actor, reason: str, now: datetime | None = None
) -> list[LoyaltyTransaction]:
    """Take back every standing earn of a job card (reopened, cancelled), referencing it.

    Points already spent cannot be taken from the balance (it never goes negative); they are
    recorded as owed and settled from the customer's next credits, so nobody keeps points for
    work that was undone.
    """
    now = now or timezone.now()
    reversals = []
    earns = job_card_rows(job_card.pk, TransactionType.EARN).filter(reversals__isnull=True)
    for balance_id in sorted(set(earns.values_list("balance_id", flat=True))):
        balance = CustomerLoyaltyBalance.objects.select_for_update(of=("self",)).select_related(
            "customer", "program__current_version"
        ).get(pk=balance_id)
        rules = program_rules(balance.program)
        for earn in earns.filter(balance_id=balance_id).order_by("pk"):
            take = min(balance.points_balance, earn.points)
            owed = earn.points - take
            note = f"Reverses earn #{earn.pk} on job card {job_card.display_number} ({reason})."
            if owed:
                note += f" {owed:,} points were already spent and are owed."
            reversals.append(post_row(
                balance, type=TransactionType.ADJUSTMENT, points=-take, actor=actor, now=now,
                reference_type=ReferenceType.JOB_CARD, reference_id=str(job_card.pk),
                reverses=earn, idempotency_key=f"reverse:{earn.pk}", notes=note,
                details={"reason": reason, "reversed_points": earn.points, "owed": owed,
                         "job_card_number": job_card.display_number},
            ))
            balance.points_owed += owed
            balance.lifetime_points -= earn.points
        tier_apply(balance, rules, actor, now)
        balance_save(balance)
    return reversals
