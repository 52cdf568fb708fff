"""Paying part of a job card with points, and giving them back when the discount goes."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from servicebay.core.actors import Actor
from servicebay.core.errors import Conflict, DomainError, InvalidTransition
from servicebay.shop.choices import JobLineKind, Payer
from servicebay.shop.models import JobCard, JobLine
from servicebay.shop.services import job_line_add, line_amounts

from ..choices import ReferenceType, TransactionType
from ..errors import NoActiveProgram, PointsOverdraw
from ..ledger import lots_replay
from ..models import CustomerLoyaltyBalance, LoyaltyTransaction
from ..rules import redemption_check, redemption_max_points, redemption_value
from ..selectors import ledger_rows, program_rules, redemption_cap, standing_redeems
from .posting import balance_save, credit_row, post_row, program_balance_lock

# Set while ``points_redeem`` adds its discount line, so the totals-changed check it triggers
# (which re-reads every loyalty line of the card) is skipped: that add changed no existing line.
_ADDING_OWN_LINE: ContextVar[int | None] = ContextVar("loyalty_adding_own_line", default=None)


@transaction.atomic
def points_redeem(
    *,
    job_card: JobCard,
    points: int,
    actor: Actor,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> LoyaltyTransaction:
    """Pay part of a job card with points: a discount line and a Redeem row, one transaction.

    The balance row is locked before it is read, so concurrent redemptions queue and the second
    sees what the first spent: the balance can never be overdrawn.
    """
    now = now or timezone.now()
    # Lock the card only: a plain FOR UPDATE would lock its location too, and every redemption
    # at that location would queue behind this one on PostgreSQL.
    card = JobCard.objects.select_for_update(of=("self",)).select_related("location").get(pk=job_card.pk)
    key = f"redeem:{idempotency_key}" if idempotency_key else None
    if key:
        done = LoyaltyTransaction.objects.filter(idempotency_key=key).first()
        if done is not None:
            if done.reference_id != str(card.pk) or -done.points != points:
                raise Conflict("This idempotency key was used for another redemption.",
                               field="idempotency_key")
            return done
    if not card.is_editable:
        raise InvalidTransition(
            f"A {card.get_status_display().lower()} job card cannot take a discount; reopen it first.",
            field="job_card",
        )
    program, balance = program_balance_lock(job_card=card)
    if program is None:
        raise NoActiveProgram(f"No active loyalty program covers {card.location.currency}.",
                              field="points")
    rules = program_rules(program)
    redemption_check(rules.redemption, points)
    available = balance.points_balance if balance else 0
    if points > available:
        raise PointsOverdraw(f"Only {available:,} points are available.", field="points")
    value = redemption_value(rules.redemption, points)
    cap, _already = redemption_cap(card, rules)
    if value > cap:
        best = redemption_max_points(rules.redemption, available=available, cap=cap)
        raise DomainError(
            f"Points can pay at most {cap} {program.currency} of this job card "
            f"({best:,} points)." if best else "Points cannot pay any more of this job card.",
            field="points",
        )
    adding = _ADDING_OWN_LINE.set(card.pk)
    try:
        line = job_line_add(
            job_card=card, actor=actor, kind=JobLineKind.DISCOUNT,
            description=f"Loyalty reward: {points:,} points", quantity=Decimal("1"),
            unit_price=value, tax_rate=Decimal("0"), payer=Payer.CUSTOMER,
        )
    finally:
        _ADDING_OWN_LINE.reset(adding)
    row = post_row(
        balance, type=TransactionType.REDEEM, points=-points, actor=actor, now=now,
        reference_type=ReferenceType.JOB_CARD, reference_id=str(card.pk), job_line_id=line.pk,
        idempotency_key=key, notes=f"Discount on job card {card.display_number}",
        details={"value": str(value), "value_per_point": str(rules.redemption.value_per_point),
                 "currency": program.currency, "job_card_number": card.display_number},
    )
    balance_save(balance)
    return row


def _restore(redeem: LoyaltyTransaction, *, actor: Actor, reason: str, now: datetime) -> LoyaltyTransaction | None:
    balance = CustomerLoyaltyBalance.objects.select_for_update(of=("self",)).select_related(
        "customer", "program__current_version"
    ).get(pk=redeem.balance_id)
    if LoyaltyTransaction.objects.filter(reverses=redeem).exists():
        return None
    lots = lots_replay(ledger_rows(balance.pk))
    expiries = [lots.lots[lot_id].expires_at for lot_id, _n in lots.consumed_by(redeem.pk)]
    known = [e for e in expiries if e is not None]
    row = credit_row(
        balance, type=TransactionType.ADJUSTMENT, points=-redeem.points, actor=actor, now=now,
        reference_type=ReferenceType.JOB_CARD, reference_id=redeem.reference_id,
        reverses=redeem, idempotency_key=f"reverse:{redeem.pk}",
        # The points go back into the lots they came from; the earliest of their expiry dates
        # wakes the expiry task for them.
        expires_at=min(known) if known else None,
        notes=f"Returns the points of redemption #{redeem.pk} ({reason}).",
        details={"reason": reason, "job_card_number": redeem.details.get("job_card_number", ""),
                 "value": redeem.details.get("value", "")},
    )
    balance_save(balance)
    return row


def points_restore_for_line(
    *, job_card: JobCard, line_id: int, actor: Actor, now: datetime | None = None
) -> LoyaltyTransaction | None:
    """A removed loyalty discount line gives its points back (inside the removal's transaction)."""
    redeem = standing_redeems(job_card.pk).filter(job_line_id=line_id).first()
    if redeem is None:
        return None
    return _restore(redeem, actor=actor, reason="discount line removed", now=now or timezone.now())


def points_restore_for_job_card(
    *, job_card: JobCard, actor: Actor, reason: str, now: datetime | None = None
) -> list[LoyaltyTransaction]:
    """Give back every redemption still standing on a job card (it was cancelled)."""
    now = now or timezone.now()
    rows = [_restore(redeem, actor=actor, reason=reason, now=now)
            for redeem in standing_redeems(job_card.pk).order_by("balance_id", "pk")]
    return [row for row in rows if row is not None]


def redemption_lines_check(*, job_card: JobCard) -> None:
    """Refuse edits to a loyalty discount line: its amount must stay what the points paid."""
    if _ADDING_OWN_LINE.get() == job_card.pk:
        return  # a redemption adding its discount line to this card: that edits no other line
    redeems = list(standing_redeems(job_card.pk).values_list("job_line_id", "details"))
    if not redeems:
        return
    lines = JobLine.objects.in_bulk([line_id for line_id, _d in redeems if line_id])
    for line_id, details in redeems:
        line = lines.get(line_id)
        if line is None:
            continue
        net, tax = line_amounts(line)
        if (line.kind != JobLineKind.DISCOUNT or line.payer != Payer.CUSTOMER or tax
                or -net != Decimal(details.get("value", "0"))):
            raise DomainError(
                "This discount was paid with loyalty points and cannot be edited; remove it to "
                "return the points, then redeem again.",
                field="unit_price",
            )
