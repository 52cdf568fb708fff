"""The variable catalogue templates may use, and the values a real customer gives them.

Templates see only what is listed here: ``{{ customer.first_name }}``, ``{{ appointment.when }}``.
Values are plain strings already formatted for the recipient (dates in their time zone, money in
the location's currency), so templates never need filters to be correct. A namespace the customer
has no data for (no appointment, no visit) is simply absent: rendering a template that needs it
fails with a clear reason, and the message is skipped rather than sent with a hole in it.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.utils import timezone

from servicebay.core.money import format_money
from servicebay.shop.choices import APPOINTMENT_ACTIVE
from servicebay.shop.models import Appointment, Customer, Location, Vehicle


@dataclass(frozen=True)
class Variable:
    description: str
    example: str


CATALOGUE: dict[str, dict[str, Variable]] = {
    "customer": {
        "first_name": Variable("First name", "Dana"),
        "last_name": Variable("Last name", "Miller"),
        "full_name": Variable("First and last name", "Dana Miller"),
        "email": Variable("Email address", "dana@example.com"),
        "phone": Variable("Phone number (E.164)", "+13125550142"),
    },
    "vehicle": {
        "label": Variable("Year, make, model (plate)", "2019 Toyota Camry (ABC123)"),
        "make": Variable("Make", "Toyota"),
        "model": Variable("Model", "Camry"),
        "year": Variable("Model year", "2019"),
        "plate": Variable("Licence plate", "ABC123"),
        "odometer": Variable("Last odometer reading with unit", "42,000 mi"),
    },
    "visit": {
        "date": Variable("Check-out date (or check-in while in the shop)", "Tue 10 Mar"),
        "location": Variable("Location name", "Downtown"),
        "total_spend": Variable("What the visit cost", "$249.90"),
        "vehicle": Variable("The vehicle serviced", "2019 Toyota Camry (ABC123)"),
    },
    "recommendation": {
        "service": Variable("The recommended service", "Brake pads (front)"),
        "notes": Variable("The advisor's notes", "Pads at 3 mm"),
        "measured": Variable("What was measured", "3 mm"),
        "estimated_price": Variable("Estimated price", "$189.00"),
    },
    "appointment": {
        "when": Variable("Date and time", "Tue 14 Mar at 09:30"),
        "date": Variable("Date", "Tue 14 Mar"),
        "time": Variable("Time", "09:30"),
        "location": Variable("Location name", "Downtown"),
        "services": Variable("Booked services", "Oil change, Tyre rotation"),
    },
    "loyalty": {
        "points": Variable("Points balance", "1,250"),
        "tier": Variable("Tier", "Gold"),
        "program": Variable("Programme name", "ServiceBay Rewards"),
    },
    "location": {
        "name": Variable("Location name", "Downtown"),
        "phone": Variable("Location phone", "+13125550100"),
        "address": Variable("Location address", "100 Main St"),
    },
    "service_due": {
        "services": Variable("Services falling due (bundled)", "Oil change and Tyre rotation"),
        "date": Variable("When the first is due", "Mon 20 Apr"),
        "vehicle": Variable("The vehicle", "2019 Toyota Camry (ABC123)"),
    },
    "links": {
        "unsubscribe": Variable("One-click unsubscribe link (email)", "https://shop.example/u/…"),
    },
}


def sample_context() -> dict[str, dict[str, str]]:
    """Every variable with its example value: what templates are validated against."""
    return {ns: {name: var.example for name, var in fields.items()} for ns, fields in CATALOGUE.items()}


def _fmt_day(dt: datetime, tz_name: str) -> str:
    return timezone.localtime(dt, zoneinfo.ZoneInfo(tz_name)).strftime("%a %-d %b")


def _fmt_time(dt: datetime, tz_name: str) -> str:
    return timezone.localtime(dt, zoneinfo.ZoneInfo(tz_name)).strftime("%H:%M")


def _model(label: str):
    """Another app's model, when that app has one (read-only use)."""
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _vehicle_vars(vehicle: Vehicle) -> dict[str, str]:
    return {
        "label": str(vehicle), "make": vehicle.make, "model": vehicle.model, "year": str(vehicle.year),
        "plate": vehicle.plate, "odometer": f"{vehicle.odometer:,} {vehicle.odometer_unit}",
    }


def _location_vars(location: Location) -> dict[str, str]:
    return {"name": location.name, "phone": location.phone, "address": location.address}


def _human_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def template_context(
    customer: Customer, refs: dict[str, Any] | None = None, *, now: datetime | None = None
) -> dict[str, dict[str, str]]:
    """The variables for one customer. ``refs`` pins the subject of a trigger: ``appointment_id``,
    ``visit_id``, ``recommendation_id``, ``vehicle_id``, ``location_id``, ``service_due`` (a dict),
    ``unsubscribe_url``. Without them the customer's next appointment, last visit and newest
    vehicle are used."""
    refs = refs or {}
    now = now or timezone.now()
    tz_name = customer.effective_time_zone
    ctx: dict[str, dict[str, str]] = {
        "customer": {
            "first_name": customer.first_name, "last_name": customer.last_name,
            "full_name": customer.full_name, "email": customer.email, "phone": customer.phone,
        }
    }
    location = customer.home_location if customer.home_location_id else None
    vehicle = None

    appointment = None
    if refs.get("appointment_id"):
        appointment = (
            Appointment.objects.select_related("location", "vehicle")
            .filter(pk=refs["appointment_id"], customer=customer).first()
        )
    elif "appointment_id" not in refs:
        appointment = (
            Appointment.objects.select_related("location", "vehicle")
            .filter(customer=customer, status__in=APPOINTMENT_ACTIVE, start_at__gte=now)
            .order_by("start_at").first()
        )
    if appointment is not None:
        location, vehicle = appointment.location, appointment.vehicle
        ctx["appointment"] = {
            "when": f"{_fmt_day(appointment.start_at, tz_name)} at {_fmt_time(appointment.start_at, tz_name)}",
            "date": _fmt_day(appointment.start_at, tz_name),
            "time": _fmt_time(appointment.start_at, tz_name),
            "location": appointment.location.name,
            "services": ", ".join(s.name for s in appointment.services.all()),
        }

    visit_model = _model("visits.CustomerVisit")
    rec_model = _model("visits.VisitRecommendation")
    visit = None
    if rec_model is not None and refs.get("recommendation_id"):
        rec = (
            rec_model.objects.select_related("service_template", "visit__location", "visit__vehicle")
            .filter(pk=refs["recommendation_id"], visit__customer=customer).first()
        )
        if rec is not None:
            visit = rec.visit
            ctx["recommendation"] = {
                "service": rec.service_template.name, "notes": rec.notes,
                "measured": getattr(rec, "measured_value", ""),
                "estimated_price": format_money(rec.estimated_price, rec.visit.location.currency),
            }
    if visit_model is not None and visit is None:
        visits = visit_model.objects.select_related("location", "vehicle").filter(customer=customer)
        if refs.get("visit_id"):
            visit = visits.filter(pk=refs["visit_id"]).first()
        elif "visit_id" not in refs:
            visit = visits.order_by("-check_in_at", "-id").first()
    if visit is not None:
        location, vehicle = location or visit.location, vehicle or visit.vehicle
        ctx["visit"] = {
            "date": _fmt_day(visit.check_out_at or visit.check_in_at, tz_name),
            "location": visit.location.name,
            "total_spend": format_money(visit.total_spend, visit.location.currency),
            "vehicle": str(visit.vehicle),
        }

    if refs.get("location_id"):
        location = Location.objects.filter(pk=refs["location_id"]).first() or location
    if refs.get("vehicle_id"):
        vehicle = Vehicle.objects.filter(pk=refs["vehicle_id"], customer=customer).first() or vehicle
    if vehicle is None:
        vehicle = Vehicle.objects.filter(customer=customer).order_by("-created_at", "-id").first()
    if vehicle is not None:
        ctx["vehicle"] = _vehicle_vars(vehicle)
    if location is not None:
        ctx["location"] = _location_vars(location)

    due = refs.get("service_due")
    if due:
        ctx["service_due"] = {
            "services": _human_list(list(due.get("services", []))),
            "date": due.get("date", ""), "vehicle": due.get("vehicle", ""),
        }

    balance_model = _model("loyalty.CustomerLoyaltyBalance")
    if balance_model is not None:
        balance = (
            balance_model.objects.select_related("program").filter(customer=customer)
            .order_by("-last_updated_at", "-id").first()
        )
        if balance is not None:
            ctx["loyalty"] = {
                "points": f"{balance.points_balance:,}", "tier": (balance.tier or "").title(),
                "program": balance.program.name,
            }
    if refs.get("unsubscribe_url"):
        ctx["links"] = {"unsubscribe": refs["unsubscribe_url"]}
    return ctx


MISSING_HINTS = {
    "appointment": "has no upcoming appointment",
    "visit": "has no visit yet",
    "recommendation": "has no such recommendation",
    "vehicle": "has no vehicle",
    "loyalty": "is not in a loyalty programme",
    "location": "has no home location",
    "service_due": "has no service falling due",
    "links": "has no unsubscribe link (email only)",
}
