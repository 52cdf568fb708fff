"""Compile a validated filter tree into a Django ``Q`` over ``shop.Customer``.

Values only ever reach the database as query parameters: each condition maps to fixed ORM
lookups chosen by its (enumerated) operator. Relative conditions ("within 90 days") are anchored
at an explicit ``as_of`` so a count can be reproduced. Counts, last visit and tier come from the
indexed ``CustomerStats`` row; a customer without one counts as zero visits and spend.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from servicebay.shop.models import Customer, Vehicle

from . import dsl
from .consent import contactable_q
from .sources import FeatureUnavailable, loyalty_balances, open_recommendations, visit_source

LOOKUP = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "eq": "exact"}
COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
           "eq": operator.eq, "ne": operator.ne}


@dataclass(frozen=True)
class Context:
    as_of: datetime

    @property
    def tz(self):
        return timezone.get_default_timezone()

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.tz)

    def days_before(self, days: int) -> datetime:
        return self.as_of - timedelta(days=days)


def number_matches(op: str, actual: Any, value: Any) -> bool:
    """The Python twin of ``_number_q``: does ``actual`` satisfy ``op value``?"""
    if op == "between":
        return value[0] <= actual <= value[1]
    return COMPARE[op](actual, value)


def _number_q(path: str, op: str, value: Any) -> Q:
    if op == "between":
        return Q(**{f"{path}__range": value})
    if op == "ne":
        return Q(**{f"{path}__lt": value}) | Q(**{f"{path}__gt": value})
    return Q(**{f"{path}__{LOOKUP[op]}": value})


def _stat_number_q(column: str, op: str, value: Any, empty: Any) -> Q:
    q = _number_q(f"stats__{column}", op, value)
    if number_matches(op, empty, value):
        # No stats row yet means zero: keep those customers when zero satisfies the condition.
        q |= Q(stats__isnull=True)
    return q


def period_bounds(cond: dsl.SpendInPeriod, ctx: Context) -> tuple[datetime, datetime]:
    """[start, end) of a spend period."""
    if cond.within_days is not None:
        return ctx.days_before(cond.within_days), ctx.as_of
    return ctx.day_start(cond.date_from), ctx.day_start(cond.date_to + timedelta(days=1))


def date_bounds(op: str, value: Any, ctx: Context) -> tuple[datetime | None, datetime | None]:
    """[start, end) a date condition accepts; None is unbounded."""
    if op == "before":
        return None, ctx.day_start(value)
    if op == "after":
        return ctx.day_start(value), None
    if op == "between":
        return ctx.day_start(value[0]), ctx.day_start(value[1] + timedelta(days=1))
    if op == "within_days":
        return ctx.days_before(value), None
    if op == "not_within_days":
        return None, ctx.days_before(value)
    raise ValueError(op)


def _range_q(path: str, start: datetime | None, end: datetime | None) -> Q:
    q = Q()
    if start is not None:
        q &= Q(**{f"{path}__gte": start})
    if end is not None:
        q &= Q(**{f"{path}__lt": end})
    return q


def _spend_in_period_q(cond: dsl.SpendInPeriod, ctx: Context) -> Q:
    src = visit_source()
    start, end = period_bounds(cond, ctx)
    sums = (
        src.queryset.filter(**{f"{src.at}__gte": start, f"{src.at}__lt": end})
        .order_by()
        .values(src.customer)
        .annotate(period_spend=Sum(src.spend))
    )
    matching = _number_q("period_spend", cond.op, cond.value)
    if number_matches(cond.op, Decimal("0"), cond.value):
        # Customers without visits in the period spent zero: everyone except those who spent
        # an amount that fails the condition.
        return ~Q(pk__in=sums.exclude(matching).values(src.customer))
    return Q(pk__in=sums.filter(matching).values(src.customer))


def _last_visit_q(cond: dsl.LastVisit, ctx: Context) -> Q:
    if cond.op == "never":
        return Q(stats__last_visit_at__isnull=True)
    if cond.op == "ever":
        return Q(stats__last_visit_at__isnull=False)
    start, end = date_bounds(cond.op, cond.value, ctx)
    return _range_q("stats__last_visit_at", start, end)


def _created_q(cond: dsl.Created, ctx: Context) -> Q:
    start, end = date_bounds(cond.op, cond.value, ctx)
    if cond.op == "within_days":
        end = ctx.as_of
    return _range_q("created_at", start, end)


def _require_loyalty(field: str) -> None:
    if loyalty_balances() is None:
        raise FeatureUnavailable(
            "Loyalty conditions need the loyalty app, which this installation does not have.",
            field=field,
        )


def _vehicle_q(cond: dsl.Vehicle, ctx: Context) -> Q:
    vehicles = Vehicle.objects.filter(customer=OuterRef("pk"))
    if cond.make:
        vehicles = vehicles.filter(make__iexact=cond.make)
    if cond.model:
        vehicles = vehicles.filter(model__iexact=cond.model)
    if cond.year_min is not None:
        vehicles = vehicles.filter(year__gte=cond.year_min)
    if cond.year_max is not None:
        vehicles = vehicles.filter(year__lte=cond.year_max)
    exists = Q(Exists(vehicles))
    return exists if cond.op == "has" else ~exists


def _location_q(cond: dsl.LocationCondition, ctx: Context) -> Q:
    if cond.scope == "home":
        q = Q(home_location_id__in=cond.value)
    else:
        src = visit_source()
        q = Q(Exists(src.queryset.filter(**{src.customer: OuterRef("pk")},
                                         location_id__in=cond.value)))
    return q if cond.op == "in" else ~q


def _open_recommendations_q(cond: dsl.OpenRecommendations, ctx: Context) -> Q:
    if open_recommendations() is None:
        raise FeatureUnavailable(
            "The open recommendations condition needs the visits app.", field="open_recommendations"
        )
    q = Q(stats__open_recommendations__gt=0)
    return q if cond.op == "has" else ~q


def _condition_q(cond: Any, ctx: Context) -> Q:
    match cond:
        case dsl.LifetimeSpend():
            return _stat_number_q("lifetime_spend", cond.op, cond.value, Decimal("0"))
        case dsl.VisitCount():
            return _stat_number_q("visit_count", cond.op, cond.value, 0)
        case dsl.LoyaltyPoints():
            _require_loyalty("loyalty_points")
            return _stat_number_q("loyalty_points", cond.op, cond.value, 0)
        case dsl.LoyaltyTier():
            _require_loyalty("loyalty_tier")
            q = Q(stats__loyalty_tier__in=list(cond.value))
            return q if cond.op == "in" else ~q
        case dsl.SpendInPeriod():
            return _spend_in_period_q(cond, ctx)
        case dsl.LastVisit():
            return _last_visit_q(cond, ctx)
        case dsl.Created():
            return _created_q(cond, ctx)
        case dsl.Vehicle():
            return _vehicle_q(cond, ctx)
        case dsl.LocationCondition():
            return _location_q(cond, ctx)
        case dsl.Consent():
            q = contactable_q(channel=cond.channel, purpose=cond.purpose, at=ctx.as_of)
            return q if cond.op == "opted_in" else ~q
        case dsl.OpenRecommendations():
            return _open_recommendations_q(cond, ctx)
        case dsl.BirthdayMonth():
            q = Q(birthday__month__in=list(cond.value))
            return q if cond.op == "in" else ~q
    raise TypeError(f"no compiler for {type(cond).__name__}")


def compile_node(node: Any, ctx: Context) -> Q:
    if isinstance(node, dsl.AllGroup):
        q = Q()
        for child in node.all:
            q &= compile_node(child, ctx)
        return q
    if isinstance(node, dsl.AnyGroup):
        q = compile_node(node.any[0], ctx)
        for child in node.any[1:]:
            q |= compile_node(child, ctx)
        return q
    if isinstance(node, dsl.NotGroup):
        return ~compile_node(node.not_, ctx)
    return _condition_q(node, ctx)


def compile_filter(f: dsl.SegmentFilter, *, as_of: datetime) -> Q:
    """The ``Q`` selecting the customers that match ``f`` at ``as_of``."""
    if timezone.is_naive(as_of):
        raise ValueError("as_of must be timezone-aware")
    return compile_node(f.root, Context(as_of=as_of))


def members_queryset(f: dsl.SegmentFilter, *, as_of: datetime) -> QuerySet[Customer]:
    """Customers matching ``f`` at ``as_of`` (one row each, no ordering)."""
    return Customer.objects.filter(compile_filter(f, as_of=as_of)).order_by()
