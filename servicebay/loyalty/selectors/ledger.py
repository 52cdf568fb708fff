"""Reads of balances and ledger rows (the services read these too)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet, Sum
from django.shortcuts import get_object_or_404

from servicebay.core.money import quantize_money
from servicebay.shop.choices import Payer
from servicebay.shop.models import JobCard, JobLine
from servicebay.shop.services import line_amounts

from ..choices import ReferenceType, TierBasis, TransactionType
from ..ledger import LedgerRow
from ..models import CustomerLoyaltyBalance, LoyaltyTransaction
from ..rules import LineInput, ProgramRules

ROLLING_WINDOW = timedelta(days=365)


def job_card_rows(job_card_id: int, type: str) -> QuerySet[LoyaltyTransaction]:
    """Ledger rows of one type that reference a job card."""
    return LoyaltyTransaction.objects.filter(
        type=type, reference_type=ReferenceType.JOB_CARD, reference_id=str(job_card_id)
    )


def standing_redeems(job_card_id: int) -> QuerySet[LoyaltyTransaction]:
    """Redemptions on a job card whose points were not returned."""
    return job_card_rows(job_card_id, TransactionType.REDEEM).filter(reversals__isnull=True)


def job_card_line_inputs(job_card: JobCard) -> list[LineInput]:
    """The job card's lines as accrual sees them (net of tax, signed, with their category)."""
    return job_cards_line_inputs([job_card.pk]).get(job_card.pk, [])


def job_cards_line_inputs(job_card_ids: list[int]) -> dict[int, list[LineInput]]:
    """The lines of several job cards, in one query, keyed by job card id."""
    lines = (
        JobLine.objects.filter(job_card_id__in=job_card_ids).select_related("service_template")
        .order_by("job_card_id", "position", "id")
    )
    inputs: dict[int, list[LineInput]] = {}
    for line in lines:
        net, _tax = line_amounts(line)
        inputs.setdefault(line.job_card_id, []).append(LineInput(
            line_id=line.pk, kind=line.kind, description=line.description,
            category=line.service_template.category if line.service_template_id else "",
            payer=line.payer, net=net,
        ))
    return inputs


def qualifying_points(balance: CustomerLoyaltyBalance, rules: ProgramRules, now: datetime) -> int:
    """Points that count toward a tier: earns that still stand, lifetime or over the last year."""
    if rules.tiers.basis == TierBasis.LIFETIME:
        return balance.lifetime_points
    reversed_ = LoyaltyTransaction.objects.filter(reverses=OuterRef("pk"))
    total = (
        LoyaltyTransaction.objects.filter(
            balance_id=balance.pk, type=TransactionType.EARN, created_at__gt=now - ROLLING_WINDOW
        )
        .exclude(Exists(reversed_))
        .aggregate(total=Sum("points"))["total"]
    )
    return total or 0


def redemption_cap(job_card: JobCard, rules: ProgramRules) -> tuple[Decimal, Decimal]:
    """(what more may be paid with points on this card, what points already pay on it).

    The cap is a share of what the customer pays (their lines with tax, before loyalty
    discounts); warranty, insurance and fleet lines are not theirs to discount.
    """
    due = Decimal("0")
    for line in JobLine.objects.filter(job_card_id=job_card.pk, payer=Payer.CUSTOMER):
        net, tax = line_amounts(line)
        due += net + tax
    already = sum(
        (Decimal(d.get("value", "0")) for d in standing_redeems(job_card.pk).values_list("details", flat=True)),
        Decimal("0"),
    )
    cap = quantize_money(rules.redemption.max_invoice_share * (due + already)) - already
    return max(min(cap, due), Decimal("0")), already


def ledger_rows(balance_id: int) -> Iterator[LedgerRow]:
    """A balance's ledger as the FIFO lot replay reads it, in id order."""
    fields = ("id", "type", "points", "created_at", "expires_at", "reverses_id")
    rows = LoyaltyTransaction.objects.filter(balance_id=balance_id).order_by("id").values_list(*fields)
    for values in rows:
        yield LedgerRow(*values)

def balance_get(*, balance_id: int) -> CustomerLoyaltyBalance:
    return get_object_or_404(
        CustomerLoyaltyBalance.objects.select_related("customer", "program__current_version"),
        pk=balance_id,
    )


def ledger_for_balance(*, balance_id: int) -> QuerySet[LoyaltyTransaction]:
    """A balance's ledger, newest first (keyset on -id), with authors and rule versions loaded."""
    return (
        LoyaltyTransaction.objects.filter(balance_id=balance_id)
        .select_related("created_by_user", "rule_version", "reverses")
        .order_by("-id")
    )
