"""Loyalty rules are data: pydantic models validated on write, stored as JSON, versioned.

The models say what a shop may configure; the pure functions below evaluate them (how many points
an invoice earns, which tier a customer is in, how many points an invoice can absorb). They touch
no database, so a rule version and the job lines it saw are enough to explain any ledger row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from servicebay.core.errors import DomainError
from servicebay.core.money import quantize_money

from .choices import AwardOn, Rounding, TierBasis

EligibleKind = Literal["labor", "part", "fee"]
Multiplier = Annotated[Decimal, Field(ge=0, le=100, max_digits=8, decimal_places=4)]
TierCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,29}$")]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccrualRule(_Rule):
    """How completed work turns into points."""

    points_per_unit: Annotated[Decimal, Field(ge=0, le=1000, max_digits=10, decimal_places=4)] = (
        Decimal("1")
    )
    eligible_kinds: list[EligibleKind] = Field(default_factory=lambda: ["labor", "part"])
    subtract_discounts: bool = True
    rounding: Rounding = Rounding.DOWN
    minimum_spend: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] = Decimal("0")
    category_multipliers: dict[str, Multiplier] = Field(default_factory=dict)
    tier_multipliers: dict[TierCode, Multiplier] = Field(default_factory=dict)
    award_on: AwardOn = AwardOn.COMPLETED
    expire_after_months: int | None = Field(None, ge=1, le=120)

    @field_validator("eligible_kinds")
    @classmethod
    def _kinds_unique(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one line kind that earns points (labor, part, fee)")
        if len(set(value)) != len(value):
            raise ValueError("list each line kind once")
        return value

    @field_validator("category_multipliers")
    @classmethod
    def _categories_named(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if any(not name.strip() or len(name) > 60 for name in value):
            raise ValueError("category names must be 1 to 60 characters (the service's category)")
        return value


class RedemptionRule(_Rule):
    """What points are worth at checkout and how many one invoice may absorb."""

    value_per_point: Annotated[Decimal, Field(gt=0, le=1000, max_digits=10, decimal_places=4)] = (
        Decimal("0.01")
    )
    minimum_points: int = Field(0, ge=0, le=10_000_000)
    step: int = Field(1, ge=1, le=1_000_000)
    max_invoice_share: Annotated[Decimal, Field(gt=0, le=1, max_digits=5, decimal_places=4)] = (
        Decimal("1")
    )


class TierLevel(_Rule):
    code: TierCode
    name: str = Field(min_length=1, max_length=60)
    threshold: int = Field(ge=0, le=1_000_000_000)


class TierRule(_Rule):
    """Tiers by qualifying points (earns that still stand), lifetime or over a rolling year."""

    basis: TierBasis = TierBasis.LIFETIME
    downgrade: bool = False
    levels: list[TierLevel] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _levels_ordered(self) -> TierRule:
        if not self.levels:
            return self
        if self.levels[0].threshold != 0:
            raise ValueError("the first tier is where every member starts: give it threshold 0")
        thresholds = [level.threshold for level in self.levels]
        if any(b <= a for a, b in pairwise(thresholds)):
            raise ValueError("list tiers from lowest to highest with strictly increasing thresholds")
        codes = [level.code for level in self.levels]
        if len(set(codes)) != len(codes):
            raise ValueError("tier codes must be unique")
        return self

    def level(self, code: str) -> TierLevel | None:
        return next((level for level in self.levels if level.code == code), None)

    def rank(self, code: str) -> int:
        return next((i for i, level in enumerate(self.levels) if level.code == code), -1)

    def level_for(self, points: int) -> TierLevel | None:
        """The highest tier whose threshold ``points`` reaches."""
        reached = [level for level in self.levels if level.threshold <= points]
        return reached[-1] if reached else None

    def next_level(self, points: int) -> TierLevel | None:
        return next((level for level in self.levels if level.threshold > points), None)

    @property
    def base_code(self) -> str:
        return self.levels[0].code if self.levels else ""


@dataclass(frozen=True)
class ProgramRules:
    accrual: AccrualRule
    redemption: RedemptionRule
    tiers: TierRule

    def as_json(self) -> dict[str, dict]:
        return {
            "accrual_rule": self.accrual.model_dump(mode="json"),
            "redemption_rule": self.redemption.model_dump(mode="json"),
            "tiers": self.tiers.model_dump(mode="json"),
        }


class InvalidRules(DomainError):
    """One or more rule documents do not validate; ``errors`` lists (field path, message)."""

    def __init__(self, errors: list[tuple[list[str], str]]):
        self.errors = errors
        first_path, first_msg = errors[0]
        super().__init__(_describe(first_path, first_msg), field=first_path[0])

    def as_detail(self) -> list[dict]:
        return [{"loc": ["body", *path], "msg": msg, "type": "invalid_rule"} for path, msg in self.errors]

    def messages_for(self, document: str) -> list[str]:
        """Messages about one document (``accrual_rule`` …), each naming the setting at fault."""
        return [_describe(path[1:], msg) for path, msg in self.errors if path[0] == document]


def _describe(path: list[str], msg: str) -> str:
    where = ".".join(str(p) for p in path)
    return f"{where}: {msg}" if where else msg


def _clean_message(error: dict[str, Any]) -> str:
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        return "is not a setting of this rule (check the spelling)"
    if error["type"] == "missing":
        return "is required"
    return msg.removeprefix("Value error, ")


DOCUMENTS: dict[str, type[_Rule]] = {
    "accrual_rule": AccrualRule,
    "redemption_rule": RedemptionRule,
    "tiers": TierRule,
}


def rules_parse(
    *, accrual_rule: Any, redemption_rule: Any, tiers: Any
) -> ProgramRules:
    """Validate the three rule documents together; raise ``InvalidRules`` listing every problem."""
    parsed: dict[str, _Rule] = {}
    errors: list[tuple[list[str], str]] = []
    raw = {"accrual_rule": accrual_rule, "redemption_rule": redemption_rule, "tiers": tiers}
    for name, model in DOCUMENTS.items():
        value = raw[name]
        if value is None:
            value = {}
        if not isinstance(value, dict):
            errors.append(([name], "must be a JSON object, e.g. {}"))
            continue
        try:
            parsed[name] = model.model_validate(value)
        except ValidationError as exc:
            for error in exc.errors():
                errors.append(([name, *(str(p) for p in error["loc"])], _clean_message(error)))
    if not errors:
        accrual, tiers_rule = parsed["accrual_rule"], parsed["tiers"]
        codes = {level.code for level in tiers_rule.levels}
        for code in accrual.tier_multipliers:
            if code not in codes:
                errors.append(
                    (["accrual_rule", "tier_multipliers", code],
                     f"there is no tier {code!r} (tiers: {', '.join(sorted(codes)) or 'none'})")
                )
    if errors:
        raise InvalidRules(errors)
    return ProgramRules(parsed["accrual_rule"], parsed["redemption_rule"], parsed["tiers"])


def rules_from_json(data: dict[str, Any]) -> ProgramRules:
    """Rules already stored (and so already valid) back into models."""
    return ProgramRules(
        AccrualRule.model_validate(data["accrual_rule"] or {}),
        RedemptionRule.model_validate(data["redemption_rule"] or {}),
        TierRule.model_validate(data["tiers"] or {}),
    )


# --- accrual -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """What accrual needs to know of one job line (also what a ledger row keeps of it)."""

    line_id: int | None
    kind: str
    description: str
    category: str
    payer: str
    net: Decimal  # quantity * unit price, rounded, signed (discounts negative), tax excluded

    def as_json(self) -> dict[str, Any]:
        return {"line_id": self.line_id, "kind": self.kind, "description": self.description,
                "category": self.category, "payer": self.payer, "net": str(self.net)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LineInput:
        return cls(line_id=data.get("line_id"), kind=data["kind"], description=data["description"],
                   category=data.get("category", ""), payer=data["payer"], net=Decimal(data["net"]))


@dataclass(frozen=True)
class LineAccrual:
    line: LineInput
    eligible: bool
    reason: str = ""
    spend: Decimal = Decimal("0")
    multiplier: Decimal = Decimal("1")
    points: Decimal = Decimal("0")


@dataclass(frozen=True)
class Accrual:
    points: int
    lines: list[LineAccrual]
    eligible_spend: Decimal
    discounts: Decimal
    discount_factor: Decimal
    tier_code: str
    tier_multiplier: Decimal
    raw_points: Decimal
    below_minimum: bool
    rule: AccrualRule = field(repr=False)


_ROUNDING = {Rounding.DOWN: ROUND_FLOOR, Rounding.NEAREST: ROUND_HALF_UP, Rounding.UP: ROUND_CEILING}


def accrual_compute(rule: AccrualRule, lines: list[LineInput], *, tier_code: str = "") -> Accrual:
    """Points an invoice earns under ``rule`` for a member in ``tier_code``, line by line.

    Only customer-paid lines of the eligible kinds earn; tax is never part of the spend. When
    ``subtract_discounts`` is on, the customer's discounts (loyalty redemptions included) shrink
    every eligible line by the same factor, so nobody earns on money they did not pay.
    """
    customer_lines = [line for line in lines if line.payer == "customer"]
    gross = sum((line.net for line in customer_lines if line.kind != "discount"), Decimal("0"))
    discounts = -sum((line.net for line in customer_lines if line.kind == "discount"), Decimal("0"))
    factor = Decimal("1")
    if rule.subtract_discounts and gross > 0 and discounts > 0:
        factor = max(Decimal("0"), (gross - discounts) / gross)
    results: list[LineAccrual] = []
    for line in lines:
        if line.kind == "discount":
            results.append(LineAccrual(line, False, "discount (reduces the eligible spend)"))
        elif line.payer != "customer":
            results.append(LineAccrual(line, False, f"paid by {line.payer}, not the customer"))
        elif line.kind not in rule.eligible_kinds:
            results.append(LineAccrual(line, False, f"{line.kind} lines do not earn points"))
        else:
            spend = quantize_money(line.net * factor)
            multiplier = rule.category_multipliers.get(line.category, Decimal("1"))
            points = spend * rule.points_per_unit * multiplier
            results.append(LineAccrual(line, True, "", spend, multiplier, points))
    eligible_spend = sum((r.spend for r in results if r.eligible), Decimal("0"))
    tier_multiplier = rule.tier_multipliers.get(tier_code, Decimal("1"))
    raw = sum((r.points for r in results if r.eligible), Decimal("0")) * tier_multiplier
    below_minimum = eligible_spend < rule.minimum_spend
    points = 0 if below_minimum else int(raw.to_integral_value(rounding=_ROUNDING[rule.rounding]))
    return Accrual(
        points=max(points, 0), lines=results, eligible_spend=eligible_spend, discounts=discounts,
        discount_factor=factor, tier_code=tier_code, tier_multiplier=tier_multiplier,
        raw_points=raw, below_minimum=below_minimum, rule=rule,
    )


# --- redemption --------------------------------------------------------------------------------


def redemption_value(rule: RedemptionRule, points: int) -> Decimal:
    """What ``points`` are worth as a discount, rounded to cents once."""
    return quantize_money(Decimal(points) * rule.value_per_point)


def redemption_max_points(rule: RedemptionRule, *, available: int, cap: Decimal) -> int:
    """The most points one redemption may use: within the balance, the invoice cap and the step."""
    if cap <= 0 or available <= 0:
        return 0
    by_cap = int((cap / rule.value_per_point).to_integral_value(rounding=ROUND_FLOOR))
    # Rounding the value to cents could push a borderline amount over the cap; step back if so.
    while by_cap > 0 and redemption_value(rule, by_cap) > cap:
        by_cap -= 1
    best = min(available, by_cap)
    best -= best % rule.step
    return best if best >= max(rule.minimum_points, 1) else 0


def redemption_check(rule: RedemptionRule, points: int) -> None:
    """Refuse a redemption amount the rule does not allow, saying what would be allowed."""
    if points <= 0:
        raise DomainError("Redeem at least one point.", field="points")
    if points < rule.minimum_points:
        raise DomainError(f"Redeem at least {rule.minimum_points} points at a time.", field="points")
    if points % rule.step:
        raise DomainError(f"Redeem points in steps of {rule.step}.", field="points")
