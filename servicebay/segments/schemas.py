from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field


class SegmentIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=5000)
    filter: dict[str, Any] = Field(description="The filter DSL, see docs/export.md.")
    snapshot_every_hours: int | None = Field(None, ge=1, le=744)


class SegmentPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=5000)
    filter: dict[str, Any] | None = None
    snapshot_every_hours: int | None = Field(None, ge=1, le=744)


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    filter: dict[str, Any]
    filter_version: int
    owner_id: int | None
    snapshot_every_hours: int | None
    next_snapshot_at: datetime | None
    last_count: int | None
    last_counted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SegmentPage(Schema):
    items: list[SegmentOut]
    next_cursor: str | None


class SegmentPreviewIn(Schema):
    filter: dict[str, Any]
    as_of: datetime | None = Field(None, description="Anchor for relative conditions; default now.")


class MemberSample(Schema):
    id: int
    first_name: str
    last_name: str


class SegmentPreviewOut(Schema):
    count: int
    as_of: datetime
    sample: list[MemberSample]


class SnapshotIn(Schema):
    as_of: datetime | None = None


class SnapshotOut(Schema):
    id: int
    segment_id: int
    taken_at: datetime
    as_of: datetime
    filter: dict[str, Any]
    filter_version: int
    source: str
    member_count: int
    taken_by: str


class SnapshotPage(Schema):
    items: list[SnapshotOut]
    next_cursor: str | None


class DiffOut(Schema):
    before_id: int
    after_id: int
    entered_count: int
    exited_count: int
    entered: list[int] = Field(description="Customer ids, first `limit`.")
    exited: list[int]


class SegmentExplanationOut(Schema):
    kind: str
    label: str
    passed: bool
    actual: str
    expected: str
    children: list[SegmentExplanationOut]


class ExplainOut(Schema):
    customer_id: int
    segment_id: int
    as_of: datetime
    member: bool
    explanation: SegmentExplanationOut


class MembersPage(Schema):
    segment_id: int
    snapshot_id: int
    channel: str
    purpose: str
    fields: list[str]
    items: list[dict[str, Any]]
    next_cursor: str | None


class CountOut(Schema):
    count: int
    as_of: datetime
    counted_at: datetime


class StatsOut(Schema):
    customer_id: int
    lifetime_spend: Decimal
    visit_count: int
    first_visit_at: datetime | None
    last_visit_at: datetime | None
    open_recommendations: int
    loyalty_tier: str
    loyalty_points: int
