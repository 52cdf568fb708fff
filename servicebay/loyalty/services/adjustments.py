"""Manual corrections by a manager, with the reason kept on the ledger row."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from servicebay.core.actors import Actor
from servicebay.core.errors import Conflict, DomainError
from servicebay.shop.models import Customer

from ..choices import ReferenceType, TransactionType
from ..errors import PointsOverdraw
from ..models import LoyaltyProgram, LoyaltyTransaction
from ..selectors import program_rules
from .posting import balance_lock, balance_save, credit_row, expiry_for, post_row

MAX_REASON = 500


@transaction.atomic
def points_adjust(
    *,
    customer: Customer,
    program: LoyaltyProgram,
    points: int,
    reason: str,
    actor: Actor,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> LoyaltyTransaction:
    """A manager's correction: positive or negative points with a required reason."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the points are adjusted.", field="reason")
    if len(reason) > MAX_REASON:
        raise DomainError(f"Keep the reason under {MAX_REASON} characters.", field="reason")
    if not isinstance(points, int) or points == 0:
        raise DomainError("Adjust by a whole number of points other than zero.", field="points")
    if abs(points) > 10_000_000:
        raise DomainError("Adjust by at most 10,000,000 points at a time.", field="points")
    key = f"adjust:{idempotency_key}" if idempotency_key else None
    if key and (done := LoyaltyTransaction.objects.filter(idempotency_key=key).first()):
        if done.points != points or done.balance.customer_id != customer.pk:
            raise Conflict("This idempotency key was used for another adjustment.", field="idempotency_key")
        return done
    program = LoyaltyProgram.objects.select_related("current_version").get(pk=program.pk)
    rules = program_rules(program)
    balance = balance_lock(customer_id=customer.pk, program=program, create=points > 0, rules=rules)
    if balance is None:
        raise PointsOverdraw("This customer holds no points in this program.", field="points")
    row_fields = {
        "type": TransactionType.ADJUSTMENT, "reference_type": ReferenceType.MANUAL,
        "notes": reason, "idempotency_key": key, "details": {"reason": reason},
    }
    if points > 0:
        row = credit_row(balance, points=points, actor=actor, now=now,
                      expires_at=expiry_for(rules, now), **row_fields)
    else:
        row = post_row(balance, points=points, actor=actor, now=now, **row_fields)
    balance_save(balance)
    return row
