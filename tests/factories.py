"""Factories: small functions that build valid objects through the services, with overrides."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.utils import timezone

from servicebay.core.actors import Actor
from servicebay.shop import services
from servicebay.shop.models import Customer, JobCard, Location, Part, ServiceTemplate, Vehicle

_seq = itertools.count(1)
SYSTEM = Actor.system("test")


def make_user(role: str | None = "advisor", *, username: str | None = None, password: str = "pw-for-tests-1") -> User:
    n = next(_seq)
    user = User.objects.create_user(username=username or f"{role or 'nobody'}{n}", password=password,
                                    first_name=(role or "No").title(), last_name=f"Staff{n}")
    if role:
        user.groups.add(Group.objects.get(name=role))
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
