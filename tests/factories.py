"""Factories: small functions that build valid objects through the services, with overrides."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.utils import timezone

from servicebay.core.actors import Actor
from servicebay.core.models import ApiKey
from servicebay.core.services import api_key_create
from servicebay.shop import services
from servicebay.shop.choices import JobCardStatus, JobLineKind
from servicebay.shop.models import (
    Appointment,
    Customer,
    JobCard,
    JobLine,
    Location,
    Part,
    ServiceTemplate,
    Vehicle,
)
from servicebay.shop.validators import vin_check_digit

_seq = itertools.count(1)
SYSTEM = Actor.system("test")


def next_number() -> int:
    """A number unique within the test run, for codes and names that must not clash."""
    return next(_seq)


def make_user(role: str | None = "advisor", *, username: str | None = None, password: str = "pw-for-tests-1") -> User:
    n = next(_seq)
    user = User.objects.create_user(username=username or f"{role or 'nobody'}{n}", password=password,
                                    first_name=(role or "No").title(), last_name=f"Staff{n}")
    if role:
        # get_or_create: a transactional test flushes the groups the data migration made.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def make_location(**kw) -> Location:
    n = next(_seq)
    defaults = {"name": f"Bay {n}", "time_zone": "America/Chicago", "currency": "USD"}
    return services.location_create(**{**defaults, **kw})


def make_customer(*, actor: Actor = SYSTEM, **kw) -> Customer:
    n = next(_seq)
    defaults = {
        "first_name": "Dana", "last_name": f"Miller{n}", "phone": f"+1312555{n % 10000:04d}",
        "email": f"dana{n}@example.com",
    }
    return services.customer_create(actor=actor, **{**defaults, **kw})


def make_vehicle(customer: Customer | None = None, *, actor: Actor = SYSTEM, **kw) -> Vehicle:
    customer = customer or make_customer()
    n = next(_seq)
    defaults = {"make": "Toyota", "model": "Camry", "year": 2019, "plate": f"TST{n:04d}", "odometer": 42000}
    return services.vehicle_create(customer=customer, actor=actor, **{**defaults, **kw})


def make_template(**kw) -> ServiceTemplate:
    n = next(_seq)
    defaults = {"code": f"SVC{n}", "name": "Oil change", "category": "Maintenance",
                "labor_hours": Decimal("0.5"), "price": Decimal("49.95"), "interval_months": 6,
                "interval_miles": 5000}
    return services.service_template_create(**{**defaults, **kw})


def make_part(**kw) -> Part:
    n = next(_seq)
    defaults = {"sku": f"P-{n:05d}", "name": "Oil filter", "price": Decimal("12.50")}
    return services.part_create(**{**defaults, **kw})


def make_job_card(*, vehicle: Vehicle | None = None, location: Location | None = None,
                  actor: Actor = SYSTEM, **kw) -> JobCard:
    vehicle = vehicle or make_vehicle()
    return services.job_card_open(actor=actor, location=location or make_location(),
                                  customer=vehicle.customer, vehicle=vehicle, **kw)


def future(hours: int = 48):
    return timezone.now() + timedelta(hours=hours)


def north_american_vin(serial: int | None = None, *, wmi: str = "1FT") -> str:
    """A valid 17-character VIN with a correct check digit (position 9), unique per serial."""
    serial = next(_seq) if serial is None else serial
    body = f"{wmi}EW1EP0JF{serial % 1_000_000:06d}"
    return body[:8] + vin_check_digit(body) + body[9:]


def make_appointment(*, vehicle: Vehicle | None = None, location: Location | None = None,
                     actor: Actor = SYSTEM, **kw) -> Appointment:
    vehicle = vehicle or make_vehicle()
    defaults = {"start_at": future(), "duration_minutes": 60}
    return services.appointment_book(actor=actor, customer=vehicle.customer, vehicle=vehicle,
                                     location=location or make_location(), **{**defaults, **kw})


def add_line(card: JobCard, *, actor: Actor = SYSTEM, **kw) -> JobLine:
    defaults = {"kind": JobLineKind.LABOR, "description": "Labor", "quantity": Decimal("1"),
                "unit_price": Decimal("100.00")}
    return services.job_line_add(job_card=card, actor=actor, **{**defaults, **kw})


# The moves that bring a fresh (open) card to each status.
_PATH_TO = {
    JobCardStatus.OPEN: (),
    JobCardStatus.IN_PROGRESS: (JobCardStatus.IN_PROGRESS,),
    JobCardStatus.COMPLETED: (JobCardStatus.IN_PROGRESS, JobCardStatus.COMPLETED),
    JobCardStatus.CLOSED: (JobCardStatus.IN_PROGRESS, JobCardStatus.COMPLETED, JobCardStatus.CLOSED),
    JobCardStatus.CANCELLED: (JobCardStatus.CANCELLED,),
}


def make_job_card_in(status: str, *, actor: Actor = SYSTEM, with_line: bool = True, **kw) -> JobCard:
    """A job card moved through the workflow to ``status`` (with one labor line by default)."""
    card = make_job_card(actor=actor, **kw)
    if with_line:
        add_line(card, actor=actor)
    for step in _PATH_TO[JobCardStatus(status)]:
        card = services.job_card_transition(job_card=card, to_status=step, actor=actor)
    return card


def make_api_key(*scopes: str, name: str = "Integration") -> tuple[ApiKey, str]:
    """A key and its one-time plaintext; scopes default to read."""
    return api_key_create(name=name, scopes=list(scopes or ("read",)))
