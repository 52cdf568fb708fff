from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

ChannelName = Literal["email", "sms", "whatsapp"]
PurposeName = Literal["transactional", "marketing"]


class ConsentStatusOut(Schema):
    granted: bool | None
    allowed: bool
    label: str
    reason: str
    source: str
    recorded_at: datetime | None
    stopped: bool
    suppressed: str


class ChannelConsentOut(Schema):
    channel: ChannelName
    address: str
    transactional: ConsentStatusOut
    marketing: ConsentStatusOut


class ConsentStateOut(Schema):
    customer_id: int
    channel_order: list[ChannelName]
    channels: list[ChannelConsentOut]


class ConsentIn(Schema):
    channel: ChannelName
    purpose: PurposeName
    granted: bool
    source: Literal["form", "import", "admin"] = Field(
        "admin", description="Staff and integrations record consent from a form, an import or by hand; "
        "STOP/START keywords and unsubscribe links come from the customer only."
    )
    note: str = Field("", max_length=200)


class ConsentRecordOut(Schema):
    id: int
    customer_id: int
    channel: str
    purpose: str
    granted: bool
    source: str
    address: str
    note: str
    actor: str
    recorded_at: datetime


class ConsentRecordPage(Schema):
    items: list[ConsentRecordOut]
    next_cursor: str | None


class PreferencesIn(Schema):
    channel_order: list[ChannelName] = Field(min_length=1, max_length=3)


class SuppressionIn(Schema):
    channel: ChannelName
    address: str = Field(min_length=3, max_length=254)
    reason: Literal["bounce", "complaint", "manual"]
    note: str = Field("", max_length=200)


class SuppressionOut(Schema):
    id: int
    channel: str
    address: str
    reason: str
    note: str
    created_at: datetime
    lifted_at: datetime | None


class SuppressionPage(Schema):
    items: list[SuppressionOut]
    next_cursor: str | None


class TemplateIn(Schema):
    code: str = Field(min_length=1, max_length=60, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=300)
    purpose: PurposeName = "transactional"
    email_subject: str = Field("", max_length=300)
    email_html: str = Field("", max_length=20_000)
    email_text: str = Field("", max_length=20_000)
    sms_body: str = Field("", max_length=20_000)
    whatsapp_template_name: str = Field("", max_length=120)
    whatsapp_params: list[str] = Field(default_factory=list, max_length=20)
    whatsapp_body: str = Field("", max_length=20_000)
    is_active: bool = True


class TemplatePatch(Schema):
    code: str | None = Field(None, min_length=1, max_length=60, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=300)
    purpose: PurposeName | None = None
    email_subject: str | None = Field(None, max_length=300)
    email_html: str | None = Field(None, max_length=20_000)
    email_text: str | None = Field(None, max_length=20_000)
    sms_body: str | None = Field(None, max_length=20_000)
    whatsapp_template_name: str | None = Field(None, max_length=120)
    whatsapp_params: list[str] | None = Field(None, max_length=20)
    whatsapp_body: str | None = Field(None, max_length=20_000)
    is_active: bool | None = None


class TemplateOut(Schema):
    id: int
    code: str
    name: str
    description: str
    purpose: str
    email_subject: str
    email_html: str
    email_text: str
    sms_body: str
    whatsapp_template_name: str
    whatsapp_params: list[str]
    whatsapp_body: str
    is_active: bool
    version: int
    channels: list[str]
    updated_at: datetime


class TemplatePage(Schema):
    items: list[TemplateOut]
    next_cursor: str | None


class TemplatePreviewIn(Schema):
    customer_id: int | None = Field(None, description="Render for this customer; example values without.")


class RenderedOut(Schema):
    channel: str
    ok: bool
    error: str = ""
    subject: str = ""
    body: str = ""
    body_html: str = ""
    provider_template: str = ""
    provider_params: list[str] = Field(default_factory=list)


class SmsSizeIn(Schema):
    text: str = Field(max_length=20_000)


class SmsSizeOut(Schema):
    encoding: str
    characters: int
    units: int
    segments: int
    per_segment: int
    remaining: int
    non_gsm: list[str]


class VariableOut(Schema):
    name: str
    description: str
    example: str


class JourneyIn(Schema):
    code: str = Field(min_length=1, max_length=60, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=300)
    definition: dict[str, Any]
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    holdout_percent: int = Field(0, ge=0, le=50)
    attribution_days: int = Field(14, ge=1, le=180)


class JourneyPatch(Schema):
    code: str | None = Field(None, min_length=1, max_length=60, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=300)
    definition: dict[str, Any] | None = None
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    holdout_percent: int | None = Field(None, ge=0, le=50)
    attribution_days: int | None = Field(None, ge=1, le=180)


class JourneyOut(Schema):
    id: int
    code: str
    name: str
    description: str
    definition: dict[str, Any]
    is_active: bool
    activated_at: datetime | None
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    holdout_percent: int
    attribution_days: int
    version: int
    updated_at: datetime


class JourneyPage(Schema):
    items: list[JourneyOut]
    next_cursor: str | None


class DryRunRowOut(Schema):
    customer_id: int
    customer: str
    when: datetime
    channel: str
    status: str
    reason: str
    template: str
    preview: str


class GroupOut(Schema):
    customers: int
    booked: int
    revenue: str
    booking_rate: float


class AttributionOut(Schema):
    days: int
    treated: GroupOut
    control: GroupOut
    lift: float | None
    incremental_revenue: str | None


class SendIn(Schema):
    template_id: int | None = None
    text: str = Field("", max_length=2000)
    subject: str = Field("", max_length=300)
    channel: ChannelName | None = Field(None, description="Default: the customer's preferred channel with consent.")
    purpose: PurposeName = "transactional"


class MessageOut(Schema):
    id: int
    customer_id: int
    channel: str
    purpose: str
    status: str
    template_id: int | None
    journey_id: int | None
    to_address: str
    subject: str
    body: str
    scheduled_for: datetime
    scheduled_for_local: str = Field(description="When it goes out, on the recipient's clock.")
    expires_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    attempts: int
    skip_reason: str
    last_error: str
    created_at: datetime

    @staticmethod
    def resolve_scheduled_for_local(obj) -> str:
        from .outbox import local_time_label

        return local_time_label(obj)


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class ResolveIn(Schema):
    outcome: Literal["sent", "resend", "failed"]
