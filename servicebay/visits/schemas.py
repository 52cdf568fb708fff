"""Request and response shapes of the visits API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from ninja import Schema
from pydantic import Field, ValidationInfo, field_validator

from servicebay.shop.schemas import JobCardOut, JobLineOut

from .choices import SATISFACTION_MAX, SATISFACTION_MIN, VisitType

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give the time with its UTC offset, e.g. 2026-03-14T09:00:00-05:00")
    return value


class CheckInIn(Schema):
    """From an appointment (scheduled), or a walk-in with customer and vehicle."""

    appointment_id: int | None = None
    customer_id: int | None = None
    vehicle_id: int | None = None
    location_id: int | None = None
    job_card_id: int | None = Field(None, description="Attach this open job card instead of opening one.")
    odometer_in: int | None = Field(None, ge=0, le=10_000_000)


class CheckOutIn(Schema):
    check_out_at: datetime | None = Field(None, description="Defaults to now.")

    @field_validator("check_out_at")
    @classmethod
    def aware(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class SatisfactionIn(Schema):
    score: int = Field(
        ge=SATISFACTION_MIN, le=SATISFACTION_MAX,
        description="1 very dissatisfied, 2 dissatisfied, 3 neutral, 4 satisfied, 5 very satisfied.",
    )
    comment: str = Field("", max_length=2000)


class SatisfactionLinkOut(Schema):
    url: str
    expires_at: datetime


class RecommendationIn(Schema):
    service_template_id: int
    notes: str = Field("", max_length=2000)
    measured_value: str = Field("", max_length=120, description='What was measured, e.g. "pads 3 mm".')
    estimated_price: Money | None = Field(None, description="Defaults to the service's price.")


class AcceptIn(Schema):
    start_at: datetime | None = Field(
        None, description="Book the work as an appointment at this time; without it the work is "
        "added to the vehicle's open job card.",
    )
    location_id: int | None = Field(None, description="Where to book; defaults to the visit's location.")

    @field_validator("start_at")
    @classmethod
    def aware(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class DeclineIn(Schema):
    reason: str = Field("", max_length=200)
    measured_value: str | None = Field(None, max_length=120)


class RecommendationOut(Schema):
    id: int
    visit_id: int
    service_template_id: int
    service_code: str
    service_name: str
    status: str
    notes: str
    measured_value: str
    estimated_price: Decimal
    created_at: datetime
    created_by_id: int | None
    decided_by_id: int | None
    decided_by_label: str
    decided_at: datetime | None
    declined_at: datetime | None
    decline_reason: str
    recovered_from_id: int | None
    job_line_id: int | None
    appointment_id: int | None

    @staticmethod
    def resolve_service_code(obj) -> str:
        return obj.service_template.code

    @staticmethod
    def resolve_service_name(obj) -> str:
        return obj.service_template.name


class RecommendationCounts(Schema):
    suggested: int
    accepted: int
    declined: int


class VisitOut(Schema):
    id: int
    customer_id: int
    vehicle_id: int
    vehicle: str
    job_card_id: int
    appointment_id: int | None
    visit_type: VisitType
    location_id: int
    location: str
    time_zone: str
    currency: str
    advisor_id: int | None
    odometer_in: int | None
    check_in_at: datetime
    check_out_at: datetime | None
    total_spend: Decimal
    satisfaction_score: int | None
    satisfaction_comment: str
    satisfaction_source: str

    @staticmethod
    def resolve_vehicle(obj) -> str:
        return str(obj.vehicle)

    @staticmethod
    def resolve_location(obj) -> str:
        return obj.location.name

    @staticmethod
    def resolve_time_zone(obj) -> str:
        return obj.location.time_zone

    @staticmethod
    def resolve_currency(obj) -> str:
        return obj.location.currency


class TimelineEntryOut(VisitOut):
    recommendations: RecommendationCounts

    @staticmethod
    def resolve_recommendations(obj) -> dict:
        return {
            "suggested": obj.suggested_count, "accepted": obj.accepted_count,
            "declined": obj.declined_count,
        }


class TimelinePage(Schema):
    items: list[TimelineEntryOut]
    next_cursor: str | None


class JobLineDetailOut(JobLineOut):
    part_name: str | None = None
    amount: Decimal

    @staticmethod
    def resolve_part_name(obj) -> str | None:
        return obj.part.name if obj.part_id else None

    @staticmethod
    def resolve_amount(obj) -> Decimal:
        from servicebay.shop.services import line_amounts

        return line_amounts(obj)[0]


class VisitJobCardOut(JobCardOut):
    lines: list[JobLineDetailOut]


class VisitDetailOut(VisitOut):
    job_card: VisitJobCardOut
    recommendations: list[RecommendationOut]

    @staticmethod
    def resolve_job_card(obj):
        return obj.job_card

    @staticmethod
    def resolve_recommendations(obj) -> list:
        return list(obj.recommendations.all())


class TimelineQuery(Schema):
    vehicle_id: int | None = None
    visit_type: VisitType | None = None
    date_from: date | None = Field(None, description="First day, in the customer's time zone.")
    date_to: date | None = Field(None, description="Last day (inclusive), in the customer's time zone.")

    @field_validator("date_to")
    @classmethod
    def not_before_from(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("date_from")
        if value is not None and start is not None and value < start:
            raise ValueError("the last day cannot be before the first day")
        return value


class OpenRecommendationOut(Schema):
    recommendation: RecommendationOut
    vehicle_id: int
    age_days: int


class ReadingOut(Schema):
    at: datetime
    odometer: int
    source: str


class MileageOut(Schema):
    vehicle_id: int
    per_day: float | None
    estimated_odometer: int
    readings: list[ReadingOut]


class IntervalDueOut(Schema):
    vehicle_id: int
    service_template_id: int
    service_name: str
    status: str
    basis: str
    due_on: date | None
    due_by_date: date | None
    due_odometer: int | None
    distance_unit: str
    predicted_at: datetime | None
    plus_minus_days: float | None
    last_service_at: datetime
    last_odometer: int | None


class WhatsNextOut(Schema):
    open_recommendations: list[OpenRecommendationOut]
    intervals: list[IntervalDueOut]
    mileage: list[MileageOut]
    recovered_count: int
    recovered_value: Decimal


class VisitKpisOut(Schema):
    total_visits: int
    lifetime_spend: Decimal
    spend_last_12_months: Decimal
    average_satisfaction: Decimal | None = Field(description="Mean score on the 1 to 5 scale.")
    rated_visits: int
    open_recommendations: int
    open_recommendations_value: Decimal
    last_visit_id: int | None
    last_visit_at: datetime | None
    currency: str
