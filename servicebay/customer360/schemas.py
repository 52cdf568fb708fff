"""What the Customer 360 API answers. Feature sections are null until their app provides them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ninja import Schema

from servicebay.shop.schemas import LocationOut, VehicleOut


class CustomerSummaryOut(Schema):
    id: int
    first_name: str
    last_name: str
    phone: str
    email: str
    preferred_channel: str
    time_zone: str  # the zone times are shown in: the customer's, else the home location's
    home_location: LocationOut | None
    vehicles: list[VehicleOut]


class NextAppointmentOut(Schema):
    id: int
    start_at: datetime
    duration_minutes: int
    status: str
    location_id: int
    location_name: str
    vehicle_id: int
    service_template_ids: list[int]


class CurrencySpendOut(Schema):
    currency: str
    visits: int
    lifetime_spend: Decimal
    spend_last_12_months: Decimal


class KpisOut(Schema):
    """From completed and closed job cards; spend in ``currency`` (other currencies apart)."""

    currency: str
    total_visits: int
    lifetime_spend: Decimal
    spend_last_12_months: Decimal
    last_visit_at: datetime | None
    next_appointment: NextAppointmentOut | None
    other_currencies: list[CurrencySpendOut]


class MonthOut(Schema):
    month: date
    visits: int
    spend: Decimal


class VisitsOut(Schema):
    average_satisfaction: Decimal | None  # 1-5 scale; null when no visit was rated
    rated_visits: int
    open_recommendations: int
    open_recommendations_value: Decimal
    currency: str


class LoyaltyOut(Schema):
    program_id: int
    program_name: str
    is_member: bool
    points_balance: int
    points_value: Decimal
    currency: str
    tier: str
    tier_name: str
    next_tier_name: str
    points_to_next_tier: int
    spend_to_next_tier: Decimal | None


class ConsentOut(Schema):
    channel: str
    label: str
    transactional: bool
    marketing: bool
    summary: str


class MessagingOut(Schema):
    consent: list[ConsentOut]
    last_contacted_at: datetime | None
    contact_hold_until: datetime | None


class ActionOut(Schema):
    kind: str
    label: str
    params: dict[str, Any]


class NextBestActionOut(Schema):
    key: str
    title: str
    detail: str
    tone: str
    action: ActionOut | None


class Customer360Out(Schema):
    customer: CustomerSummaryOut
    kpis: KpisOut
    spend_by_month: list[MonthOut]
    visits: VisitsOut | None
    loyalty: LoyaltyOut | None
    messaging: MessagingOut | None
    next_best_actions: list[NextBestActionOut]


class ActivityOut(Schema):
    id: int
    kind: str
    family: str | None
    title: str
    detail: str
    tone: str
    occurred_at: datetime
    actor: str
    subject_type: str
    subject_id: int | None
    payload: dict[str, Any]


class ActivityPageOut(Schema):
    items: list[ActivityOut]
    next_cursor: str | None
