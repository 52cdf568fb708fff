"""The segment filter language: JSON validated by pydantic into a typed tree.

A filter is ``{"version": 1, "root": NODE}`` where a NODE is a group —
``{"all": [NODE, ...]}``, ``{"any": [NODE, ...]}``, ``{"not": NODE}`` — or a condition
``{"field": "...", "op": "...", "value": ...}``. Every field is typed and bounded (numbers,
dates, enumerations, names from a restricted alphabet), so a filter can only ever become the
parameters of a query the compiler builds through the ORM (PostHog's typed filter trees,
STYLE §"What we take"). ``FIELDS`` documents each condition for the builder UI and the docs.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)

from servicebay.core.errors import DomainError

FILTER_VERSION = 1
MAX_DEPTH = 6
MAX_CONDITIONS = 60

NumberOp = Literal["gt", "gte", "lt", "lte", "eq", "ne", "between"]
DateOp = Literal["before", "after", "between", "within_days", "not_within_days"]
SetOp = Literal["in", "not_in"]
HasOp = Literal["has", "has_not"]

Money = Annotated[Decimal, Field(ge=0, le=Decimal("9999999999.99"), decimal_places=2)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
Points = Annotated[int, Field(ge=-10_000_000, le=1_000_000_000)]
Days = Annotated[int, Field(ge=1, le=36_500)]
# Names people type (makes, models, tiers): letters of any script, digits, space and . & ' / + -
# Anything else (quotes, semicolons, comment markers, control characters) is refused outright.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60,
                      pattern=r"^[\w][\w .&'/+-]*$"),
]
Channel = Literal["email", "sms", "whatsapp"]
Purpose = Literal["transactional", "marketing"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _NumberCondition(_Model):
    """``value`` is one number, or ``[low, high]`` (inclusive) for ``between``."""

    op: NumberOp

    @model_validator(mode="after")
    def _check_value_shape(self):
        value = self.value  # type: ignore[attr-defined]
        if self.op == "between":
            if not isinstance(value, tuple) or value[0] > value[1]:
                raise ValueError("'between' takes [low, high] with low <= high")
        elif isinstance(value, tuple):
            raise ValueError(f"'{self.op}' takes a single value, not a range")
        return self


class LifetimeSpend(_NumberCondition):
    field: Literal["lifetime_spend"]
    value: Money | tuple[Money, Money]


class SpendInPeriod(_NumberCondition):
    """Spend on visits in a window: the last ``within_days`` before as-of, or ``from``..``to``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: Literal["spend_in_period"]
    value: Money | tuple[Money, Money]
    within_days: Days | None = None
    date_from: date | None = Field(None, alias="from")
    date_to: date | None = Field(None, alias="to")

    @model_validator(mode="after")
    def _check_period(self):
        absolute = self.date_from is not None or self.date_to is not None
        if (self.within_days is None) == (not absolute):
            if self.within_days is not None:
                raise ValueError("give either within_days or from/to, not both")
            raise ValueError("give the period: within_days, or from and to")
        if absolute and (self.date_from is None or self.date_to is None):
            raise ValueError("an absolute period needs both from and to")
        if absolute and self.date_from > self.date_to:
            raise ValueError("'from' must not be after 'to'")
        return self


class VisitCount(_NumberCondition):
    field: Literal["visit_count"]
    value: Count | tuple[Count, Count]


class LoyaltyPoints(_NumberCondition):
    field: Literal["loyalty_points"]
    value: Points | tuple[Points, Points]


class _DateCondition(_Model):
    """before/after a date (after = on or after), between two dates, or relative to as-of."""

    value: date | tuple[date, date] | Days | None = None

    @model_validator(mode="after")
    def _check_value_shape(self):
        op, value = self.op, self.value  # type: ignore[attr-defined]
        expected = {
            "before": date, "after": date, "between": tuple, "within_days": int,
            "not_within_days": int, "never": type(None), "ever": type(None),
        }[op]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            shape = {date: "a date (YYYY-MM-DD)", tuple: "[from, to] dates", int: "a number of days",
                     type(None): "no value"}[expected]
            raise ValueError(f"'{op}' takes {shape}")
        if isinstance(value, tuple) and value[0] > value[1]:
            raise ValueError("'between' takes [from, to] with from <= to")
        return self


class LastVisit(_DateCondition):
    """Date of the latest counted visit; ``never``/``ever`` ask whether there is one at all.

    The other operators only match customers who have visited.
    """

    field: Literal["last_visit"]
    op: Literal["before", "after", "between", "within_days", "not_within_days", "never", "ever"]


class Created(_DateCondition):
    field: Literal["created"]
    op: DateOp


class LoyaltyTier(_Model):
    field: Literal["loyalty_tier"]
    op: SetOp
    value: Annotated[list[Name], Field(min_length=1, max_length=20)]


class Vehicle(_Model):
    """Owns (``has``) or does not own a vehicle matching every given attribute."""

    field: Literal["vehicle"]
    op: HasOp = "has"
    make: Name | None = None
    model: Name | None = None
    year_min: Annotated[int, Field(ge=1900, le=2100)] | None = None
    year_max: Annotated[int, Field(ge=1900, le=2100)] | None = None

    @model_validator(mode="after")
    def _check_something(self):
        if self.make is None and self.model is None and self.year_min is None and self.year_max is None:
            raise ValueError("give at least one of make, model, year_min, year_max")
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError("year_min must not be after year_max")
        return self


class LocationCondition(_Model):
    """Home location (``scope: home``) or any location with a counted visit (``visited``)."""

    field: Literal["location"]
    op: SetOp
    value: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=500)]
    scope: Literal["home", "visited"] = "home"


class Consent(_Model):
    """Opted in (and not suppressed) for a channel and purpose at the as-of time."""

    field: Literal["consent"]
    op: Literal["opted_in", "not_opted_in"] = "opted_in"
    channel: Channel
    purpose: Purpose = "marketing"


class OpenRecommendations(_Model):
    field: Literal["open_recommendations"]
    op: HasOp


class BirthdayMonth(_Model):
    field: Literal["birthday_month"]
    op: SetOp
    value: Annotated[list[Annotated[int, Field(ge=1, le=12)]], Field(min_length=1, max_length=12)]


Condition = Annotated[
    Union[  # noqa: UP007 - the discriminated union needs the explicit form
        Annotated[LifetimeSpend, Tag("lifetime_spend")],
        Annotated[SpendInPeriod, Tag("spend_in_period")],
        Annotated[VisitCount, Tag("visit_count")],
        Annotated[LastVisit, Tag("last_visit")],
        Annotated[LoyaltyTier, Tag("loyalty_tier")],
        Annotated[LoyaltyPoints, Tag("loyalty_points")],
        Annotated[Vehicle, Tag("vehicle")],
        Annotated[LocationCondition, Tag("location")],
        Annotated[Consent, Tag("consent")],
        Annotated[OpenRecommendations, Tag("open_recommendations")],
        Annotated[BirthdayMonth, Tag("birthday_month")],
        Annotated[Created, Tag("created")],
    ],
    Discriminator("field"),
]


class AllGroup(_Model):
    all: Annotated[list[Node], Field(min_length=1, max_length=MAX_CONDITIONS)]


class AnyGroup(_Model):
    any: Annotated[list[Node], Field(min_length=1, max_length=MAX_CONDITIONS)]


class NotGroup(_Model):
    not_: Node = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _node_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = set(value)
        for kind in ("all", "any", "not"):
            if kind in keys:
                return kind
        return "condition" if "field" in keys else None
    if isinstance(value, BaseModel):
        return {AllGroup: "all", AnyGroup: "any", NotGroup: "not"}.get(type(value), "condition")
    return None


Node = Annotated[
    Union[  # noqa: UP007
        Annotated[AllGroup, Tag("all")],
        Annotated[AnyGroup, Tag("any")],
        Annotated[NotGroup, Tag("not")],
        Annotated[Condition, Tag("condition")],
    ],
    Discriminator(
        _node_kind,
        custom_error_type="invalid_node",
        custom_error_message=(
            "Each node is a group ({\"all\": [...]}, {\"any\": [...]}, {\"not\": {...}}) "
            "or a condition ({\"field\": ..., \"op\": ..., ...})"
        ),
    ),
]

AllGroup.model_rebuild()
AnyGroup.model_rebuild()
NotGroup.model_rebuild()


class SegmentFilter(_Model):
    version: Literal[1] = FILTER_VERSION
    root: Node

    @model_validator(mode="after")
    def _check_size(self):
        count, depth = _measure(self.root)
        if depth > MAX_DEPTH:
            raise ValueError(f"groups nest at most {MAX_DEPTH} deep")
        if count > MAX_CONDITIONS:
            raise ValueError(f"a filter has at most {MAX_CONDITIONS} conditions")
        return self


def _measure(node, depth: int = 1) -> tuple[int, int]:
    children = children_of(node)
    if children is None:
        return 1, depth - 1
    total, deepest = 0, depth
    for child in children:
        count, child_depth = _measure(child, depth + 1)
        total += count
        deepest = max(deepest, child_depth)
    return total, deepest


def children_of(node) -> list | None:
    """The child nodes of a group, or None for a condition."""
    if isinstance(node, AllGroup):
        return list(node.all)
    if isinstance(node, AnyGroup):
        return list(node.any)
    if isinstance(node, NotGroup):
        return [node.not_]
    return None


class FilterInvalid(DomainError):
    """The filter JSON does not follow the DSL; ``errors`` lists each problem with its path."""

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        first = errors[0] if errors else {"path": "filter", "msg": "invalid filter"}
        super().__init__(f"{first['path']}: {first['msg']}", field="filter", code="invalid_filter")

    def as_detail(self) -> list[dict]:
        return [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in self.errors
        ]


def _clean_loc(loc: tuple) -> list:
    """Pydantic's error path without its union tags, i.e. the keys and indexes of the input."""
    out: list = []
    items = list(loc)
    i = 0
    expect_node = False
    while i < len(items):
        part = items[i]
        if expect_node:
            i += 1  # the node's tag: all / any / not / condition
            if part == "condition" and i < len(items):
                i += 1  # the condition's field tag
            expect_node = False
            continue
        out.append(part)
        i += 1
        if part in ("root", "not") or (isinstance(part, int) and out[-2:-1] in (["all"], ["any"])):
            expect_node = True
        elif part not in ("all", "any"):
            # A condition's own key: keep what follows only when it is an index into the value.
            out.extend(p for p in items[i:] if isinstance(p, int))
            break
    return out


def parse_filter(data: Any) -> SegmentFilter:
    """Validate raw JSON (dict or str) into a ``SegmentFilter``; ``FilterInvalid`` lists the errors."""
    try:
        if isinstance(data, str | bytes):
            return SegmentFilter.model_validate_json(data)
        return SegmentFilter.model_validate(data)
    except ValidationError as exc:
        errors = []
        seen = set()
        for err in exc.errors(include_url=False):
            loc = ["filter", *_clean_loc(tuple(err["loc"]))]
            path = ".".join(str(p) for p in loc)
            msg = err["msg"].removeprefix("Value error, ")
            if (path, msg) in seen:
                continue
            seen.add((path, msg))
            errors.append({"loc": loc, "path": path, "msg": msg, "type": err["type"]})
        raise FilterInvalid(errors) from None


def _reader_order(value: Any) -> Any:
    if isinstance(value, list):
        return [_reader_order(v) for v in value]
    if not isinstance(value, dict):
        return value
    first = [k for k in ("version", "root", "field", "op") if k in value]
    return {k: _reader_order(value[k]) for k in [*first, *(k for k in value if k not in first)]}


def filter_dump(f: SegmentFilter) -> dict:
    """The canonical JSON of a filter (what is stored and what snapshots record).

    Keys come in reading order (field, op, value …) so the stored JSON reads like the builder's.
    """
    return _reader_order(f.model_dump(mode="json", by_alias=True, exclude_none=True))


# Field reference for the builder and docs/export.md: field -> (ops, value description).
FIELDS: dict[str, tuple[str, str]] = {
    "lifetime_spend": ("gt gte lt lte eq ne between", "amount, e.g. \"500.00\"; [low, high] for between"),
    "spend_in_period": ("gt gte lt lte eq ne between",
                        "amount, plus within_days: N, or from/to dates"),
    "visit_count": ("gt gte lt lte eq ne between", "whole number"),
    "last_visit": ("before after between within_days not_within_days never ever",
                   "date, [from, to], or days before as-of"),
    "loyalty_tier": ("in not_in", "list of tier names"),
    "loyalty_points": ("gt gte lt lte eq ne between", "whole number"),
    "vehicle": ("has has_not", "make, model, year_min, year_max (any of them)"),
    "location": ("in not_in", "list of location ids; scope: home | visited"),
    "consent": ("opted_in not_opted_in", "channel: email | sms | whatsapp; purpose"),
    "open_recommendations": ("has has_not", "no value"),
    "birthday_month": ("in not_in", "list of months 1-12"),
    "created": ("before after between within_days not_within_days", "date, [from, to], or days"),
}
