from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated

from ninja import Schema
from pydantic import Field, field_validator

from .choices import AppointmentStatus, Channel, DistanceUnit, JobCardStatus, JobLineKind, Payer

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Name = Annotated[str, Field(min_length=1, max_length=80)]


class LocationIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    time_zone: str = Field(min_length=1, max_length=64, description="IANA name, e.g. America/Chicago.")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    address: str = Field("", max_length=500)
    phone: str = Field("", max_length=32)
    distance_unit: DistanceUnit = DistanceUnit.MILES
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(8, 0)


class LocationPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    time_zone: str | None = Field(None, min_length=1, max_length=64)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    address: str | None = Field(None, max_length=500)
    phone: str | None = Field(None, max_length=32)
    distance_unit: DistanceUnit | None = None
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None


class LocationOut(Schema):
    id: int
    name: str
    time_zone: str
    currency: str
    address: str
    phone: str
    distance_unit: DistanceUnit
    quiet_hours_start: time
    quiet_hours_end: time


class VehicleIn(Schema):
    vin: str = Field("", max_length=32)
    make: str = Field(min_length=1, max_length=60)
    model: str = Field(min_length=1, max_length=60)
    year: int = Field(ge=1900, le=2100)
    plate: str = Field("", max_length=16)
    odometer: int = Field(0, ge=0, le=10_000_000)
    odometer_unit: DistanceUnit = DistanceUnit.MILES


class VehiclePatch(Schema):
    vin: str | None = Field(None, max_length=32)
    make: str | None = Field(None, min_length=1, max_length=60)
    model: str | None = Field(None, min_length=1, max_length=60)
    year: int | None = Field(None, ge=1900, le=2100)
    plate: str | None = Field(None, max_length=16)
    odometer: int | None = Field(None, ge=0, le=10_000_000)
    odometer_unit: DistanceUnit | None = None


class VehicleOut(Schema):
    id: int
    customer_id: int
    vin: str
    make: str
    model: str
    year: int
    plate: str
    odometer: int
    odometer_unit: str


class CustomerIn(Schema):
    first_name: Name
    last_name: Name
    phone: str = Field("", max_length=32)
    email: str = Field("", max_length=254)
    birthday: date | None = None
    preferred_channel: Channel = Channel.EMAIL
    language: str = Field("en", min_length=2, max_length=10)
    time_zone: str = Field("", max_length=64)
    home_location_id: int | None = None


class CustomerPatch(Schema):
    first_name: Name | None = None
    last_name: Name | None = None
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)
    birthday: date | None = None
    preferred_channel: Channel | None = None
    language: str | None = Field(None, min_length=2, max_length=10)
    time_zone: str | None = Field(None, max_length=64)
    home_location_id: int | None = None


class CustomerOut(Schema):
    id: int
    first_name: str
    last_name: str
    phone: str
    email: str
    birthday: date | None
    preferred_channel: str
    language: str
    time_zone: str
    home_location_id: int | None
    created_at: datetime


class CustomerDetailOut(CustomerOut):
    vehicles: list[VehicleOut]


class ServiceTemplateIn(Schema):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=120)
    category: str = Field(min_length=1, max_length=60)
    labor_hours: Annotated[Decimal, Field(ge=0, max_digits=6, decimal_places=2)] = Decimal("0")
    price: Money
    interval_months: int | None = Field(None, ge=1, le=240)
    interval_miles: int | None = Field(None, ge=1, le=1_000_000)
    interval_km: int | None = Field(None, ge=1, le=1_000_000)
    is_active: bool = True


class ServiceTemplateOut(Schema):
    id: int
    code: str
    name: str
    category: str
    labor_hours: Decimal
    price: Decimal
    interval_months: int | None
    interval_miles: int | None
    interval_km: int | None
    is_active: bool


class PartIn(Schema):
    sku: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    price: Money
    is_active: bool = True


class PartOut(Schema):
    id: int
    sku: str
    name: str
    price: Decimal
    is_active: bool


class AppointmentIn(Schema):
    customer_id: int
    vehicle_id: int
    location_id: int
    start_at: datetime
    duration_minutes: int = Field(60, ge=5, le=24 * 60)
    service_template_ids: list[int] = Field(default_factory=list, max_length=50)
    notes: str = Field("", max_length=2000)

    @field_validator("start_at")
    @classmethod
    def aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time with its UTC offset, e.g. 2026-12-01T09:00:00-06:00")
        return value


class AppointmentStatusIn(Schema):
    status: AppointmentStatus


class AppointmentOut(Schema):
    id: int
    customer_id: int
    vehicle_id: int
    location_id: int
    start_at: datetime
    duration_minutes: int
    status: str
    notes: str
    service_template_ids: list[int]

    @staticmethod
    def resolve_service_template_ids(obj) -> list[int]:
        return [s.pk for s in obj.services.all()]


class JobCardIn(Schema):
    location_id: int
    customer_id: int
    vehicle_id: int
    appointment_id: int | None = None
    odometer_in: int | None = Field(None, ge=0, le=10_000_000)


class JobLineIn(Schema):
    kind: JobLineKind
    description: str = Field("", max_length=200)
    quantity: Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=3)] = Decimal("1")
    unit_price: Money | None = None
    tax_rate: Annotated[Decimal, Field(ge=0, lt=1, max_digits=5, decimal_places=4)] = Decimal("0")
    part_id: int | None = None
    service_template_id: int | None = None
    payer: Payer = Payer.CUSTOMER


class JobLinePatch(Schema):
    description: str | None = Field(None, min_length=1, max_length=200)
    quantity: Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=3)] | None = None
    unit_price: Money | None = None
    tax_rate: Annotated[Decimal, Field(ge=0, lt=1, max_digits=5, decimal_places=4)] | None = None
    payer: Payer | None = None


class JobLineOut(Schema):
    id: int
    position: int
    kind: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    payer: str
    part_id: int | None
    part_sku: str | None = None
    service_template_id: int | None

    @staticmethod
    def resolve_part_sku(obj) -> str | None:
        return obj.part.sku if obj.part_id else None


class JobCardOut(Schema):
    id: int
    number: int
    location_id: int
    customer_id: int
    vehicle_id: int
    appointment_id: int | None
    advisor_id: int | None
    odometer_in: int | None
    status: str
    technician_notes: str
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal
    opened_at: datetime
    completed_at: datetime | None
    closed_at: datetime | None


class JobCardDetailOut(JobCardOut):
    lines: list[JobLineOut]


class JobCardStatusIn(Schema):
    status: JobCardStatus


class NoteIn(Schema):
    body: str = Field(min_length=1, max_length=5000)
    pinned: bool = False


class NoteOut(Schema):
    id: int
    customer_id: int
    author_id: int | None
    body: str
    pinned: bool
    created_at: datetime


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


class VehiclePage(Schema):
    items: list[VehicleOut]
    next_cursor: str | None


class AppointmentPage(Schema):
    items: list[AppointmentOut]
    next_cursor: str | None


class JobCardPage(Schema):
    items: list[JobCardOut]
    next_cursor: str | None


class NotePage(Schema):
    items: list[NoteOut]
    next_cursor: str | None


class ServiceTemplatePage(Schema):
    items: list[ServiceTemplateOut]
    next_cursor: str | None


class PartPage(Schema):
    items: list[PartOut]
    next_cursor: str | None


class LocationPage(Schema):
    items: list[LocationOut]
    next_cursor: str | None
