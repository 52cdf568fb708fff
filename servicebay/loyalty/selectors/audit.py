"""Audit reads: drift between balances and ledgers, the points liability, the ledger export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import BigIntegerField, Count, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ..models import CustomerLoyaltyBalance, LoyaltyProgram, LoyaltyTransaction
from ..rules import redemption_value
from .programs import program_rules


@dataclass(frozen=True)
class Drift:
    balance_id: int
    customer_id: int
    program_id: int
    stored: int
    ledger: int

    def __str__(self) -> str:
        return (f"balance {self.balance_id} (customer {self.customer_id}, program {self.program_id}): "
                f"stored {self.stored}, ledger sum {self.ledger}, drift {self.stored - self.ledger:+d}")


def balance_drifts() -> Iterator[Drift]:
    """Balances whose stored points differ from the sum of their ledger rows, or are negative.

    One grouped query over the ledger (index on balance), streamed.
    """
    ledger_sum = (
        LoyaltyTransaction.objects.filter(balance_id=OuterRef("pk"))
        .order_by().values("balance_id").annotate(total=Sum("points")).values("total")
    )
    qs = (
        CustomerLoyaltyBalance.objects.annotate(
            ledger=Coalesce(Subquery(ledger_sum, output_field=BigIntegerField()), Value(0))
        )
        .exclude(points_balance=F("ledger"))
        .values_list("pk", "customer_id", "program_id", "points_balance", "ledger")
        .order_by("pk")
    )
    for pk, customer_id, program_id, stored, ledger in qs.iterator(chunk_size=2000):
        yield Drift(pk, customer_id, program_id, stored, ledger)


@dataclass(frozen=True)
class LiabilityRow:
    program_id: int
    program_name: str
    currency: str
    tier: str
    tier_name: str
    members: int
    points: int
    value_per_point: Decimal
    value: Decimal


def liability_report() -> list[LiabilityRow]:
    """Outstanding points and what they are worth at today's redemption value, by program and
    tier. One grouped query plus one per program for its rules."""
    grouped = (
        CustomerLoyaltyBalance.objects.values("program_id", "tier")
        .annotate(members=Count("id"), points=Sum("points_balance"))
        .order_by("program_id", "tier")
    )
    programs = {p.pk: p for p in LoyaltyProgram.objects.select_related("current_version")}
    rules = {pk: program_rules(p) for pk, p in programs.items()}
    rows = []
    for item in grouped:
        program, program_rule = programs[item["program_id"]], rules[item["program_id"]]
        level = program_rule.tiers.level(item["tier"])
        points = item["points"] or 0
        rows.append(LiabilityRow(
            program_id=program.pk, program_name=program.name, currency=program.currency,
            tier=item["tier"], tier_name=level.name if level else (item["tier"] or "—"),
            members=item["members"], points=points,
            value_per_point=program_rule.redemption.value_per_point,
            value=redemption_value(program_rule.redemption, points),
        ))
    rank = {(pk, lvl.code): i for pk, r in rules.items() for i, lvl in enumerate(r.tiers.levels)}
    rows.sort(key=lambda r: (r.program_name, rank.get((r.program_id, r.tier), 99), r.tier))
    return rows


LEDGER_EXPORT_COLUMNS = (
    "id", "created_at", "program", "customer_id", "customer_name", "type", "points",
    "balance_after", "reference_type", "reference_id", "reverses_id", "rule_version", "expires_at",
    "created_by", "notes",
)


def ledger_export_rows(
    *, program_id: int | None = None, customer_id: int | None = None,
    since: datetime | None = None, until: datetime | None = None,
) -> Iterator[tuple]:
    """The ledger as flat tuples in ``LEDGER_EXPORT_COLUMNS`` order, streamed in id order."""
    qs = LoyaltyTransaction.objects.order_by("id")
    if program_id is not None:
        qs = qs.filter(balance__program_id=program_id)
    if customer_id is not None:
        qs = qs.filter(balance__customer_id=customer_id)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    values = qs.values_list(
        "id", "created_at", "balance__program__name", "balance__customer_id",
        "balance__customer__first_name", "balance__customer__last_name", "type", "points",
        "balance_after", "reference_type", "reference_id", "reverses_id", "rule_version__number",
        "expires_at", "created_by", "notes",
    )
    for row in values.iterator(chunk_size=2000):
        (pk, created, program, cid, first, last, type_, points, after, rtype, rid, rev, version,
         expires, by, notes) = row
        yield (pk, created.isoformat(), program, cid, f"{first} {last}".strip(), type_, points, after,
               rtype, rid, rev or "", version or "", expires.isoformat() if expires else "", by, notes)
