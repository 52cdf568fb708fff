"""A customer's standing: balance, tier, progress, pending and expiring points."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from servicebay.shop.choices import JobCardStatus
from servicebay.shop.models import Customer, JobCard

from ..choices import AwardOn
from ..ledger import lots_replay
from ..models import CustomerLoyaltyBalance, LoyaltyProgram
from ..rules import ProgramRules, accrual_compute, redemption_value
from .ledger import job_cards_line_inputs, ledger_rows, qualifying_points
from .programs import program_rules

EXPIRING_SOON = timedelta(days=30)


@dataclass(frozen=True)
class LoyaltySummary:
    """One customer's standing in one program, shaped for panels and KPIs.

    ``tier``/``tier_name`` are "" when the program has no tiers; ``next_tier_name`` is "" at the
    top tier; ``progress_percent`` is 0-100 toward the next tier (100 at the top).
    """

    program_id: int
    program_name: str
    currency: str
    balance_id: int | None
    points_balance: int
    points_value: Decimal
    value_per_point: Decimal
    tier: str
    tier_name: str
    lifetime_points: int
    qualifying_points: int
    tier_basis: str
    next_tier: str
    next_tier_name: str
    points_to_next_tier: int
    progress_percent: int
    points_owed: int
    pending_points: int
    expiring_points: int
    next_expiry_at: datetime | None
    last_updated_at: datetime | None
    is_member: bool = field(default=True)


def _summary(program: LoyaltyProgram, balance: CustomerLoyaltyBalance | None, *,
             customer_id: int, now: datetime) -> LoyaltySummary:
    rules = program_rules(program)
    tiers = rules.tiers
    if balance is not None:
        points, qualifying = balance.points_balance, qualifying_points(balance, rules, now)
        tier_code = balance.tier
        lots = lots_replay(ledger_rows(balance.pk)) if balance.next_expiry_at else None
        expiring = lots.expiring_by(now + EXPIRING_SOON) if lots else 0
        next_expiry = lots.next_expiry() if lots else None
    else:
        points = qualifying = expiring = 0
        tier_code, next_expiry = tiers.base_code, None
    current = tiers.level(tier_code)
    upcoming = tiers.next_level(max(qualifying, current.threshold if current else 0))
    if upcoming is None:
        progress, to_next = (100 if tiers.levels else 0), 0
    else:
        floor = current.threshold if current else 0
        span = max(upcoming.threshold - floor, 1)
        progress = max(0, min(100, int((qualifying - floor) * 100 / span)))
        to_next = max(upcoming.threshold - qualifying, 0)
    return LoyaltySummary(
        program_id=program.pk, program_name=program.name, currency=program.currency,
        balance_id=balance.pk if balance else None, points_balance=points,
        points_value=redemption_value(rules.redemption, points),
        value_per_point=rules.redemption.value_per_point,
        tier=tier_code, tier_name=current.name if current else tier_code,
        lifetime_points=balance.lifetime_points if balance else 0, qualifying_points=qualifying,
        tier_basis=tiers.basis, next_tier=upcoming.code if upcoming else "",
        next_tier_name=upcoming.name if upcoming else "", points_to_next_tier=to_next,
        progress_percent=progress, points_owed=balance.points_owed if balance else 0,
        pending_points=_pending_points(program, rules, customer_id, tier_code),
        expiring_points=expiring, next_expiry_at=next_expiry,
        last_updated_at=balance.last_updated_at if balance else None,
        is_member=balance is not None,
    )


def _pending_points(program: LoyaltyProgram, rules: ProgramRules, customer_id: int, tier: str) -> int:
    """Points of completed, not yet closed job cards when the program awards on payment."""
    if rules.accrual.award_on != AwardOn.CLOSED:
        return 0
    card_ids = list(JobCard.objects.filter(
        customer_id=customer_id, status=JobCardStatus.COMPLETED, location__currency=program.currency
    ).values_list("pk", flat=True)[:50])
    lines = job_cards_line_inputs(card_ids)
    return sum(accrual_compute(rules.accrual, lines.get(pk, []), tier_code=tier).points
               for pk in card_ids)


def loyalty_summaries(*, customer_id: int, now: datetime | None = None) -> list[LoyaltySummary]:
    """The customer's standing in every program they belong to, plus active ones they could join."""
    now = now or timezone.now()
    balances = {
        b.program_id: b
        for b in CustomerLoyaltyBalance.objects.filter(customer_id=customer_id)
        .select_related("program__current_version")
    }
    programs = {b.program_id: b.program for b in balances.values()}
    for program in LoyaltyProgram.objects.filter(is_active=True).select_related("current_version"):
        programs.setdefault(program.pk, program)
    ordered = sorted(programs.values(), key=lambda p: (not p.is_active, p.name))
    return [_summary(p, balances.get(p.pk), customer_id=customer_id, now=now) for p in ordered]


def loyalty_summary(*, customer_id: int, now: datetime | None = None) -> LoyaltySummary | None:
    """The customer's standing in their main program (for Customer 360): the active program of
    their home location's currency, else the one they hold most points in; None when no program
    exists."""
    summaries = loyalty_summaries(customer_id=customer_id, now=now)
    if not summaries:
        return None
    home_currency = (
        Customer.objects.filter(pk=customer_id).values_list("home_location__currency", flat=True).first()
    )
    for summary in summaries:
        if summary.currency == home_currency and summary.is_member:
            return summary
    members = [s for s in summaries if s.is_member]
    if members:
        return max(members, key=lambda s: s.points_balance)
    return next((s for s in summaries if s.currency == home_currency), summaries[0])
