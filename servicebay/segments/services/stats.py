"""Per-customer aggregates (``CustomerStats``), kept current inside the writing transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from servicebay.shop.models import Customer

from ..models import CustomerStats
from ..sources import loyalty_balances, open_recommendations, optional_model, visit_source

ZERO = Decimal("0.00")


def _visit_aggregates(customer_filter: dict) -> dict[int, dict]:
    src = visit_source()
    rows = (
        src.queryset.filter(**{f"{src.customer}__{k}": v for k, v in customer_filter.items()})
        .order_by()
        .values(src.customer)
        .annotate(n=Count("pk"), spend=Sum(src.spend), first=Min(src.at), last=Max(src.at))
    )
    return {row[src.customer]: row for row in rows}


def _open_recommendation_counts(customer_filter: dict) -> dict[int, int]:
    qs = open_recommendations()
    if qs is None:
        return {}
    rows = (
        qs.filter(**{f"visit__customer_id__{k}": v for k, v in customer_filter.items()})
        .order_by()
        .values("visit__customer_id")
        .annotate(n=Count("pk"))
    )
    return {row["visit__customer_id"]: row["n"] for row in rows}


def _loyalty(customer_filter: dict) -> dict[int, tuple[str, int]]:
    """(tier, points) per customer: points summed over programs, the tier of the largest balance."""
    qs = loyalty_balances()
    if qs is None:
        return {}
    result: dict[int, tuple[str, int]] = {}
    best: dict[int, int] = {}
    rows = qs.filter(**{f"customer_id__{k}": v for k, v in customer_filter.items()}).values_list(
        "customer_id", "tier", "points_balance"
    )
    for customer_id, tier, points in rows.order_by("customer_id", "-points_balance", "id"):
        tier_now, total = result.get(customer_id, ("", 0))
        if customer_id not in best:
            best[customer_id] = points
            tier_now = tier or ""
        result[customer_id] = (tier_now, total + points)
    return result


def _stats_for(customer_ids: list[int], customer_filter: dict) -> list[CustomerStats]:
    visits = _visit_aggregates(customer_filter)
    recs = _open_recommendation_counts(customer_filter)
    loyalty = _loyalty(customer_filter)
    now = timezone.now()
    out = []
    for customer_id in customer_ids:
        v = visits.get(customer_id)
        tier, points = loyalty.get(customer_id, ("", 0))
        out.append(
            CustomerStats(
                customer_id=customer_id,
                lifetime_spend=(v["spend"] or ZERO) if v else ZERO,
                visit_count=v["n"] if v else 0,
                first_visit_at=v["first"] if v else None,
                last_visit_at=v["last"] if v else None,
                open_recommendations=recs.get(customer_id, 0),
                loyalty_tier=tier,
                loyalty_points=points,
                refreshed_at=now,
            )
        )
    return out


STAT_FIELDS = (
    "lifetime_spend", "visit_count", "first_visit_at", "last_visit_at", "open_recommendations",
    "loyalty_tier", "loyalty_points", "refreshed_at",
)


@transaction.atomic(savepoint=False)
def customer_stats_refresh(*, customer_id: int, create: bool = True) -> CustomerStats | None:
    """Recompute one customer's aggregates from the sources, under a lock on the stats row.

    Locking first means two transactions that both change the same customer apply one after the
    other and the second reads the first one's committed rows (no lost update).
    ``create=False`` is for delete receivers: a customer being erased must not get a new row.
    """
    if create:
        CustomerStats.objects.get_or_create(customer_id=customer_id)
    row = CustomerStats.objects.select_for_update().filter(customer_id=customer_id).first()
    if row is None:
        return None
    fresh = _stats_for([customer_id], {"exact": customer_id})[0]
    changed = [f for f in STAT_FIELDS[:-1] if getattr(row, f) != getattr(fresh, f)]
    if changed:
        for name in STAT_FIELDS:
            setattr(row, name, getattr(fresh, name))
        row.save(update_fields=list(STAT_FIELDS))
    return row


@functools.cache
def _loyalty_sql(vendor: str) -> tuple[str, str]:
    """(lock the stats row, set its loyalty columns as ``_loyalty`` computes them: points summed
    over programs, the tier of the largest balance), written once per database vendor."""
    balance = optional_model("loyalty", "CustomerLoyaltyBalance")._meta
    stats = CustomerStats._meta
    q = connection.ops.quote_name
    b, s = q(balance.db_table), q(stats.db_table)

    def col(meta, name: str) -> str:
        return q(meta.get_field(name).column)

    of_customer = f"FROM {b} WHERE {b}.{col(balance, 'customer')} = {s}.{col(stats, 'customer')}"
    lock = f"SELECT 1 FROM {s} WHERE {col(stats, 'customer')} = %s FOR UPDATE"  # noqa: S608 - identifiers from model metadata
    update = (
        f"UPDATE {s} SET "  # noqa: S608 - identifiers from model metadata
        f"{col(stats, 'loyalty_points')} = COALESCE((SELECT SUM({b}.{col(balance, 'points_balance')}) "
        f"{of_customer}), 0), "
        f"{col(stats, 'loyalty_tier')} = COALESCE((SELECT {b}.{col(balance, 'tier')} {of_customer} "
        f"ORDER BY {b}.{col(balance, 'points_balance')} DESC, {b}.{col(balance, 'id')} LIMIT 1), ''), "
        f"{col(stats, 'refreshed_at')} = %s "
        f"WHERE {s}.{col(stats, 'customer')} = %s"
    )
    return lock, update


@transaction.atomic(savepoint=False)
def customer_stats_loyalty_refresh(*, customer_id: int, create: bool = True) -> bool:
    """Recompute only a customer's loyalty columns (points, tier) from their balances.

    For the ledger's hot path: one UPDATE, where ``customer_stats_refresh`` would re-aggregate
    visits and recommendations that a balance change cannot move. Idempotent, like it. On
    PostgreSQL the row is locked first, so the UPDATE's subqueries read a snapshot taken after
    any concurrent change to another of the customer's balances has committed (an UPDATE that
    waits on a row lock re-reads that row only, not its subqueries). A missing row is created
    (with every column) unless ``create`` is False. Returns whether a row was updated.
    """
    if optional_model("loyalty", "CustomerLoyaltyBalance") is None:
        return False
    lock, update = _loyalty_sql(connection.vendor)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(lock, [customer_id])
        cursor.execute(update, [now, customer_id])
        updated = cursor.rowcount > 0
    if not updated and create:
        return customer_stats_refresh(customer_id=customer_id) is not None
    return updated


def customer_stats_rebuild(
    *, batch_size: int = 5000, progress: Callable[[int], None] | None = None
) -> int:
    """Recompute every customer's aggregates from the sources in id-ordered batches.

    Each batch is its own transaction and replaces its rows whole, so memory stays flat at any
    size and a concurrent write to a customer in a batch waits for that batch's row locks.
    Returns the number of customers processed.
    """
    done = 0
    last_id = 0
    while True:
        ids = list(
            Customer.objects.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return done
        lo, hi = ids[0], ids[-1]
        with transaction.atomic():
            # Lock the batch's stats rows, then recompute with the locks held.
            list(CustomerStats.objects.select_for_update().filter(customer_id__gte=lo, customer_id__lte=hi)
                 .values_list("customer_id", flat=True))
            rows = _stats_for(ids, {"gte": lo, "lte": hi})
            CustomerStats.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["customer"],
                update_fields=list(STAT_FIELDS),
            )
        done += len(ids)
        last_id = hi
        if progress is not None:
            progress(len(ids))
