"""Why is this customer in (or out of) a segment: each condition with the values it compared.

The explainer evaluates the same tree in Python against one customer's facts, with the same
bounds as the compiler (``compiler.period_bounds`` / ``date_bounds``), so its verdict equals SQL
membership; ``tests/segments/test_explain.py`` checks that on every customer of a varied data set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from servicebay.core.money import format_money
from servicebay.shop.models import Customer

from . import dsl
from .compiler import Context, date_bounds, number_matches, period_bounds
from .models import CustomerStats
from .sources import FeatureUnavailable, loyalty_balances, open_recommendations, visit_source

OP_WORDS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "=", "ne": "≠", "between": "between",
            "in": "is one of", "not_in": "is none of", "before": "before", "after": "on or after",
            "within_days": "within the last", "not_within_days": "not within the last"}
MONTHS = ["", "January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


@dataclass
class Explanation:
    kind: str  # all | any | not | condition
    label: str
    passed: bool
    actual: str = ""
    expected: str = ""
    children: list[Explanation] = field(default_factory=list)


class Facts:
    """One customer's values, loaded once per kind of fact."""

    def __init__(self, customer: Customer, ctx: Context):
        self.customer = customer
        self.ctx = ctx
        self._stats: CustomerStats | bool | None = False
        self._vehicles: list | None = None
        self._visited: set[int] | None = None

    @property
    def stats(self) -> CustomerStats:
        if self._stats is False:
            self._stats = CustomerStats.objects.filter(customer_id=self.customer.pk).first()
        return self._stats or CustomerStats(customer_id=self.customer.pk)

    @property
    def vehicles(self) -> list:
        if self._vehicles is None:
            self._vehicles = list(self.customer.vehicles.values("make", "model", "year"))
        return self._vehicles

    @property
    def visited_locations(self) -> set[int]:
        if self._visited is None:
            src = visit_source()
            self._visited = set(
                src.queryset.filter(**{src.customer: self.customer.pk})
                .values_list("location_id", flat=True).distinct()
            )
        return self._visited

    def spend_between(self, start: datetime, end: datetime) -> Decimal:
        src = visit_source()
        total = src.queryset.filter(
            **{src.customer: self.customer.pk, f"{src.at}__gte": start, f"{src.at}__lt": end}
        ).aggregate(s=Sum(src.spend))["s"]
        return total or Decimal("0")


def _fmt_number(value: Any, money: bool) -> str:
    if isinstance(value, tuple):
        return f"{_fmt_number(value[0], money)} and {_fmt_number(value[1], money)}"
    return format_money(value) if money else f"{value:,}"


def _fmt_dt(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "never"


def _number(label: str, op: str, actual: Any, value: Any, money: bool = False) -> Explanation:
    return Explanation(
        kind="condition",
        label=f"{label} {OP_WORDS[op]} {_fmt_number(value, money)}",
        passed=number_matches(op, actual, value),
        actual=_fmt_number(actual, money),
        expected=f"{OP_WORDS[op]} {_fmt_number(value, money)}",
    )


def _in_range(actual: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if actual is None:
        return False
    return (start is None or actual >= start) and (end is None or actual < end)


def _range_words(start: datetime | None, end: datetime | None) -> str:
    if start and end:
        return f"from {_fmt_dt(start)} to before {_fmt_dt(end)}"
    if start:
        return f"on or after {_fmt_dt(start)}"
    return f"before {_fmt_dt(end)}"


def _date(label: str, op: str, value: Any, actual: datetime | None, ctx: Context,
          cap_at_as_of: bool = False) -> Explanation:
    start, end = date_bounds(op, value, ctx)
    if cap_at_as_of and op == "within_days":
        end = ctx.as_of
    value_words = f"{value} days" if isinstance(value, int) else (
        f"{value[0]} to {value[1]}" if isinstance(value, tuple) else str(value))
    return Explanation(
        kind="condition", label=f"{label} {OP_WORDS.get(op, op)} {value_words}",
        passed=_in_range(actual, start, end), actual=_fmt_dt(actual),
        expected=_range_words(start, end),
    )


def _condition(cond: Any, facts: Facts) -> Explanation:
    ctx = facts.ctx
    customer = facts.customer
    match cond:
        case dsl.LifetimeSpend():
            return _number("Lifetime spend", cond.op, facts.stats.lifetime_spend, cond.value, True)
        case dsl.VisitCount():
            return _number("Visits", cond.op, facts.stats.visit_count, cond.value)
        case dsl.LoyaltyPoints():
            _need(loyalty_balances(), "Loyalty conditions need the loyalty app.")
            return _number("Loyalty points", cond.op, facts.stats.loyalty_points, cond.value)
        case dsl.LoyaltyTier():
            _need(loyalty_balances(), "Loyalty conditions need the loyalty app.")
            tier = facts.stats.loyalty_tier
            inside = tier in cond.value
            return Explanation(
                kind="condition", label=f"Loyalty tier {OP_WORDS[cond.op]} {', '.join(cond.value)}",
                passed=inside if cond.op == "in" else not inside, actual=tier or "no tier",
                expected=f"{OP_WORDS[cond.op]} {', '.join(cond.value)}",
            )
        case dsl.SpendInPeriod():
            start, end = period_bounds(cond, ctx)
            spent = facts.spend_between(start, end)
            result = _number("Spend", cond.op, spent, cond.value, True)
            result.label += f" ({_range_words(start, end)})"
            return result
        case dsl.LastVisit():
            last = facts.stats.last_visit_at
            if cond.op in ("never", "ever"):
                passed = (last is None) == (cond.op == "never")
                return Explanation(kind="condition", label=f"Has {cond.op} visited",
                                   passed=passed, actual=_fmt_dt(last),
                                   expected="no visit" if cond.op == "never" else "any visit")
            return _date("Last visit", cond.op, cond.value, last, ctx)
        case dsl.Created():
            return _date("Customer since", cond.op, cond.value, customer.created_at, ctx,
                         cap_at_as_of=True)
        case dsl.Vehicle():
            return _vehicle(cond, facts)
        case dsl.LocationCondition():
            if cond.scope == "home":
                actual_ids = {customer.home_location_id} if customer.home_location_id else set()
            else:
                actual_ids = facts.visited_locations
            hit = bool(actual_ids & set(cond.value))
            where = "Home location" if cond.scope == "home" else "Visited a location"
            return Explanation(
                kind="condition",
                label=f"{where} {OP_WORDS[cond.op]} {', '.join(map(str, cond.value))}",
                passed=hit if cond.op == "in" else not hit,
                actual=", ".join(str(i) for i in sorted(actual_ids)) or "none",
                expected=f"{OP_WORDS[cond.op]} {', '.join(map(str, cond.value))}",
            )
        case dsl.Consent():
            return _consent(cond, facts)
        case dsl.OpenRecommendations():
            _need(open_recommendations(), "The open recommendations condition needs the visits app.")
            n = facts.stats.open_recommendations
            return Explanation(
                kind="condition",
                label="Has open recommendations" if cond.op == "has" else "Has no open recommendations",
                passed=(n > 0) == (cond.op == "has"), actual=f"{n} open", expected=
                "at least one" if cond.op == "has" else "none",
            )
        case dsl.BirthdayMonth():
            month = customer.birthday.month if customer.birthday else None
            inside = month in cond.value
            names = ", ".join(MONTHS[m] for m in cond.value)
            return Explanation(
                kind="condition", label=f"Birthday month {OP_WORDS[cond.op]} {names}",
                passed=inside if cond.op == "in" else not inside,
                actual=MONTHS[month] if month else "unknown", expected=f"{OP_WORDS[cond.op]} {names}",
            )
    raise TypeError(f"no explainer for {type(cond).__name__}")


def _need(source: Any, message: str) -> None:
    if source is None:
        raise FeatureUnavailable(message)


def _vehicle(cond: dsl.Vehicle, facts: Facts) -> Explanation:
    def matches(v: dict) -> bool:
        return (
            (cond.make is None or v["make"].casefold() == cond.make.casefold())
            and (cond.model is None or v["model"].casefold() == cond.model.casefold())
            and (cond.year_min is None or v["year"] >= cond.year_min)
            and (cond.year_max is None or v["year"] <= cond.year_max)
        )

    wanted = " ".join(
        p for p in [cond.make, cond.model,
                    f"{cond.year_min or '…'}-{cond.year_max or '…'}"
                    if cond.year_min or cond.year_max else None] if p
    )
    has = any(matches(v) for v in facts.vehicles)
    owned = "; ".join(f"{v['year']} {v['make']} {v['model']}" for v in facts.vehicles) or "no vehicles"
    return Explanation(
        kind="condition", label=f"{'Owns' if cond.op == 'has' else 'Does not own'} a {wanted}",
        passed=has if cond.op == "has" else not has, actual=owned,
        expected=f"{'a' if cond.op == 'has' else 'no'} {wanted}",
    )


def _consent(cond: dsl.Consent, facts: Facts) -> Explanation:
    from .consent import require_ledger

    require_ledger()  # a clear error when the messaging app is missing
    from servicebay.messaging.consent import can_contact

    decision = can_contact(facts.customer, cond.channel, cond.purpose, facts.ctx.as_of)
    want = cond.op == "opted_in"
    return Explanation(
        kind="condition",
        label=f"{'May' if want else 'May not'} be contacted by {cond.channel} for {cond.purpose}",
        passed=decision.allowed == want,
        actual="allowed" if decision.allowed else f"not allowed: {decision.reason}",
        expected="allowed" if want else "not allowed",
    )


def _node(node: Any, facts: Facts) -> Explanation:
    if isinstance(node, dsl.AllGroup | dsl.AnyGroup):
        children = [_node(c, facts) for c in dsl.children_of(node)]
        is_all = isinstance(node, dsl.AllGroup)
        passed = all(c.passed for c in children) if is_all else any(c.passed for c in children)
        return Explanation(kind="all" if is_all else "any",
                           label="All of these" if is_all else "Any of these",
                           passed=passed, children=children)
    if isinstance(node, dsl.NotGroup):
        child = _node(node.not_, facts)
        return Explanation(kind="not", label="None of this", passed=not child.passed,
                           children=[child])
    return _condition(node, facts)


def explain_customer(f: dsl.SegmentFilter, *, customer: Customer, as_of: datetime) -> Explanation:
    """Evaluate ``f`` for one customer at ``as_of``, condition by condition."""
    return _node(f.root, Facts(customer, Context(as_of=as_of)))
