from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field

from servicebay.shop.choices import Payer
from servicebay.shop.schemas import JobLineOut

from .choices import TransactionType

RuleDoc = Annotated[dict[str, Any], Field(description="A rule document; see the program editor.")]
Points = Annotated[int, Field(gt=0, le=10_000_000)]
IdempotencyKey = Annotated[
    str | None,
    Field(None, min_length=1, max_length=100,
          description="Send the same key again to get the first result instead of a second change."),
]


class ProgramIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=2000)
    currency: str = Field("USD", pattern=r"^[A-Za-z]{3}$")
    is_active: bool = True
    accrual_rule: RuleDoc = Field(default_factory=dict)
    redemption_rule: RuleDoc = Field(default_factory=dict)
    tiers: RuleDoc = Field(default_factory=dict)


class ProgramPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=2000)
    currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$")
    is_active: bool | None = None
    accrual_rule: RuleDoc | None = None
    redemption_rule: RuleDoc | None = None
    tiers: RuleDoc | None = None


class ProgramOut(Schema):
    id: int
    name: str
    description: str
    currency: str
    is_active: bool
    accrual_rule: dict[str, Any]
    redemption_rule: dict[str, Any]
    tiers: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_version(obj) -> int:
        return obj.current_version.number


class ProgramPage(Schema):
    items: list[ProgramOut]
    next_cursor: str | None


class RuleVersionOut(Schema):
    number: int
    created_at: datetime
    created_by: str
    accrual_rule: dict[str, Any]
    redemption_rule: dict[str, Any]
    tiers: dict[str, Any]


class SummaryOut(Schema):
    program_id: int
    program_name: str
    currency: str
    balance_id: int | None
    is_member: bool
    points_balance: int
    points_value: Decimal
    value_per_point: Decimal
    tier: str
    tier_name: str
    lifetime_points: int
    qualifying_points: int
    next_tier: str
    next_tier_name: str
    points_to_next_tier: int
    progress_percent: int
    points_owed: int
    pending_points: int
    expiring_points: int
    next_expiry_at: datetime | None


class TransactionOut(Schema):
    id: int
    balance_id: int
    type: TransactionType
    points: int
    balance_after: int
    reference_type: str
    reference_id: str
    job_line_id: int | None
    notes: str
    rule_version: int | None
    reverses_id: int | None
    expires_at: datetime | None
    created_at: datetime
    created_by: str

    @staticmethod
    def resolve_rule_version(obj) -> int | None:
        return obj.rule_version.number if obj.rule_version_id else None


class TransactionPage(Schema):
    items: list[TransactionOut]
    next_cursor: str | None


class ExplanationOut(Schema):
    transaction: TransactionOut
    headline: str
    steps: list[str]
    rule_version: int | None
    consistent: bool


class RedeemIn(Schema):
    points: Points
    idempotency_key: IdempotencyKey = None


class RedeemOut(Schema):
    transaction: TransactionOut
    line: JobLineOut | None
    job_card_total: Decimal
    points_balance: int


class QuoteOut(Schema):
    program_id: int | None
    available: int
    max_points: int
    value_per_point: Decimal
    step: int
    minimum_points: int
    cap: Decimal
    already_redeemed: Decimal
    editable: bool
    reason: str


class AdjustIn(Schema):
    program_id: int
    points: int = Field(ge=-10_000_000, le=10_000_000, description="Positive adds, negative removes.")
    reason: str = Field(min_length=1, max_length=500)
    idempotency_key: IdempotencyKey = None


class LiabilityRowOut(Schema):
    program_id: int
    program_name: str
    currency: str
    tier: str
    tier_name: str
    members: int
    points: int
    value_per_point: Decimal
    value: Decimal


class PreviewLineIn(Schema):
    kind: str = Field(pattern=r"^(labor|part|fee|discount)$")
    amount: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
    description: str = Field("", max_length=200)
    category: str = Field("", max_length=60)
    payer: Payer = Payer.CUSTOMER


class AccrualPreviewIn(Schema):
    accrual_rule: RuleDoc = Field(default_factory=dict)
    redemption_rule: RuleDoc = Field(default_factory=dict)
    tiers: RuleDoc = Field(default_factory=dict)
    tier: str = Field("", max_length=30)
    lines: list[PreviewLineIn] = Field(min_length=1, max_length=100)


class PreviewOut(Schema):
    points: int
    eligible_spend: Decimal
    steps: list[str]
