"""The one way to append to the points ledger.

Every ledger write locks the balance row (``SELECT … FOR UPDATE``), appends the row, moves the
balance by exactly the row's points and records the event, in the caller's transaction, so
``points_balance == sum(points)`` holds at every commit. Lock order is job card, then balance (the
shop's transitions and line changes lock the card before our receivers run), so two requests never
wait on each other in opposite orders.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Subquery

from servicebay.activity.services import record
from servicebay.core.actors import Actor
from servicebay.shop.models import JobCard, Location

from ..choices import ReferenceType, TransactionType
from ..errors import PointsOverdraw
from ..models import CustomerLoyaltyBalance, LoyaltyProgram, LoyaltyTransaction
from ..rules import ProgramRules
from ..selectors import program_for_currency, program_rules

EVENT_OF = {
    TransactionType.EARN: "loyalty.earned",
    TransactionType.REDEEM: "loyalty.redeemed",
    TransactionType.ADJUSTMENT: "loyalty.adjusted",
    TransactionType.EXPIRE: "loyalty.expired",
}
_BALANCE_FIELDS = [
    "points_balance", "points_owed", "lifetime_points", "tier", "tier_changed_at",
    "next_expiry_at", "last_updated_at",
]


def balance_lock(
    *, customer_id: int, program: LoyaltyProgram, create: bool, rules: ProgramRules | None = None
) -> CustomerLoyaltyBalance | None:
    """The balance row, locked for this transaction; created (enrolled) on first credit."""
    qs = CustomerLoyaltyBalance.objects.select_for_update(of=("self",)).select_related("customer")
    balance = qs.filter(customer_id=customer_id, program=program).first()
    if balance is not None or not create:
        if balance is not None:
            balance.program = program
        return balance
    rules = rules or program_rules(program)
    try:
        with transaction.atomic():
            balance = CustomerLoyaltyBalance.objects.create(
                customer_id=customer_id, program=program, tier=rules.tiers.base_code
            )
    except IntegrityError:
        # Someone enrolled the customer a moment ago; their row is committed, lock it.
        balance = qs.get(customer_id=customer_id, program=program)
    balance.program = program
    return balance


def program_balance_lock(
    *, job_card: JobCard
) -> tuple[LoyaltyProgram | None, CustomerLoyaltyBalance | None]:
    """The active program of the job card's currency (its location's) and the card's customer's
    balance in it (locked), if any.

    One query for an enrolled customer — the balance with its program, rules and customer, and the
    location's currency as a subquery unless the card carries its location — where
    ``program_for_currency`` + ``balance_lock`` take two or three. Enrolling stays with
    ``balance_lock``.
    """
    currency = (
        job_card.location.currency if JobCard.location.is_cached(job_card)
        else Subquery(Location.objects.filter(pk=job_card.location_id).values("currency"))
    )
    found = list(
        CustomerLoyaltyBalance.objects.select_for_update(of=("self",))
        .select_related("customer", "program__current_version")
        .filter(customer_id=job_card.customer_id, program__currency=currency, program__is_active=True)
        .order_by()[:1]
    )
    if found:
        return found[0].program, found[0]
    return program_for_currency(job_card.location.currency), None


def post_row(
    balance: CustomerLoyaltyBalance,
    *,
    type: str,
    points: int,
    actor: Actor,
    now: datetime,
    reference_type: str = "",
    reference_id: str = "",
    job_line_id: int | None = None,
    notes: str = "",
    reverses: LoyaltyTransaction | None = None,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
    details: dict[str, Any] | None = None,
) -> LoyaltyTransaction:
    """Append one row and move the (locked) balance with it; the caller saves the balance."""
    after = balance.points_balance + points
    if after < 0:
        raise PointsOverdraw(
            f"Only {balance.points_balance:,} points are available.", field="points"
        )
    row = LoyaltyTransaction.objects.create(
        balance=balance, type=type, points=points, balance_after=after,
        reference_type=reference_type, reference_id=reference_id, job_line_id=job_line_id,
        notes=notes, rule_version_id=balance.program.current_version_id, reverses=reverses,
        expires_at=expires_at, idempotency_key=idempotency_key, details=details or {},
        created_at=now, created_by=actor.label, created_by_user=actor.user,
    )
    balance.points_balance = after
    balance.last_updated_at = now
    if expires_at is not None and (balance.next_expiry_at is None or expires_at < balance.next_expiry_at):
        balance.next_expiry_at = expires_at
    payload = {
        "transaction_id": row.pk, "points": points, "balance": after,
        "program_id": balance.program_id, "program": balance.program.name,
        "reference_type": reference_type, "reference_id": reference_id,
    }
    if reverses is not None:
        payload["reverses"] = reverses.pk
    if details and "job_card_number" in details:
        payload["job_card_number"] = details["job_card_number"]
    record(EVENT_OF[TransactionType(type)], actor=actor, customer=balance.customer, subject=row,
           payload=payload, occurred_at=now)
    return row


def credit_row(balance: CustomerLoyaltyBalance, *, points: int, actor: Actor, now: datetime,
            **row: Any) -> LoyaltyTransaction:
    """Post a credit; points a reversal could not take back earlier are settled from it first."""
    credit = post_row(balance, points=points, actor=actor, now=now, **row)
    settle = min(balance.points_owed, points)
    if settle > 0:
        post_row(
            balance, type=TransactionType.ADJUSTMENT, points=-settle, actor=actor, now=now,
            reference_type=ReferenceType.TRANSACTION, reference_id=str(credit.pk),
            notes=f"Settles {settle:,} points owed from an earlier reversal.",
            details={"settles_owed": settle},
        )
        balance.points_owed -= settle
    return credit


def balance_save(balance: CustomerLoyaltyBalance) -> None:
    balance.save(update_fields=_BALANCE_FIELDS)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def expiry_for(rules: ProgramRules, now: datetime) -> datetime | None:
    months = rules.accrual.expire_after_months
    return _add_months(now, months) if months else None
