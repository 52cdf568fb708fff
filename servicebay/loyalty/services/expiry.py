"""Expiry: unspent points past their date leave as one ledger row, soonest-expiring lots first."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from servicebay.core.actors import Actor

from ..choices import ReferenceType, TransactionType
from ..ledger import LedgerRow, lots_replay
from ..models import CustomerLoyaltyBalance, LoyaltyTransaction
from ..selectors import ledger_rows
from .posting import balance_save, post_row

EXPIRY_ACTOR = Actor.system("task:loyalty.expire")


@transaction.atomic
def points_expire_for_balance(
    *, balance_id: int, actor: Actor = EXPIRY_ACTOR, now: datetime | None = None
) -> LoyaltyTransaction | None:
    """Expire the unspent points whose time has come, soonest-expiring lots first, as one row."""
    now = now or timezone.now()
    balance = CustomerLoyaltyBalance.objects.select_for_update(of=("self",)).select_related(
        "customer", "program__current_version"
    ).get(pk=balance_id)
    lots = lots_replay(ledger_rows(balance.pk))
    due = lots.due(now)
    total = sum(lot.remaining for lot in due)
    row = None
    if total:
        row = post_row(
            balance, type=TransactionType.EXPIRE, points=-total, actor=actor, now=now,
            reference_type=ReferenceType.EXPIRY, reference_id=now.date().isoformat(),
            notes=f"{total:,} points reached their expiry date.",
            details={"lots": [
                {"transaction_id": lot.source_id, "points": lot.remaining,
                 "expires_at": lot.expires_at.isoformat()} for lot in due
            ]},
        )
        lots.apply(LedgerRow(row.pk, row.type, row.points, now))
    balance.next_expiry_at = lots.next_expiry()
    balance_save(balance)
    return row


def points_expire_due(*, now: datetime | None = None, actor: Actor = EXPIRY_ACTOR) -> int:
    """Run expiry for every balance with points due; safe to run twice at once. Returns rows."""
    now = now or timezone.now()
    due = CustomerLoyaltyBalance.objects.filter(next_expiry_at__lte=now).order_by("pk")
    rows = 0
    for balance_id in due.values_list("pk", flat=True).iterator(chunk_size=2000):
        rows += points_expire_for_balance(balance_id=balance_id, actor=actor, now=now) is not None
    return rows
