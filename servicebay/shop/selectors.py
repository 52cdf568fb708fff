"""Every read of the shop core that a page or endpoint needs, with the joins that keep it flat."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404

from .choices import APPOINTMENT_ACTIVE
from .models import Appointment, Customer, JobCard, JobLine, Note, Vehicle
from .validators import VIN_RE

_DIGITS = re.compile(r"\D")
# Longest appointment the model allows; bounds the overlap scan to an index range.
_MAX_DURATION = timedelta(hours=24)


def customer_search(*, query: str = "") -> QuerySet[Customer]:
    """Customers matching a name, phone, email, plate or VIN; exact identifiers win first.

    Each branch is an indexed prefix or equality match (no leading wildcard), so search stays
    fast at a million customers.
    """
    qs = Customer.objects.select_related("home_location")
    query = " ".join(query.split())
    if not query:
        return qs
    lowered = query.lower()
    if "@" in query:
        return qs.annotate(email_ci=Lower("email")).filter(email_ci__startswith=lowered)
    compact = query.replace(" ", "").replace("-", "").upper()
    if VIN_RE.match(compact):
        return qs.filter(vehicles__vin=compact).distinct()
    digits = _DIGITS.sub("", query)
    if len(digits) >= 7 and len(digits) >= len(query.replace(" ", "")) - 4:
        # Phones are stored in E.164; match on the national tail so "(555) 010-2030" finds +15550102030.
        return qs.filter(phone__endswith=digits[-10:])
    conditions = Q(vehicles__plate__startswith=compact)
    parts = lowered.split(" ")
    qs = qs.annotate(first_ci=Lower("first_name"), last_ci=Lower("last_name"))
    if len(parts) >= 2:
        conditions |= Q(first_ci__startswith=parts[0], last_ci__startswith=" ".join(parts[1:]))
        conditions |= Q(last_ci__startswith=parts[0], first_ci__startswith=" ".join(parts[1:]))
    else:
        conditions |= Q(last_ci__startswith=lowered) | Q(first_ci__startswith=lowered)
    return qs.filter(conditions).distinct()


def customer_get(*, customer_id: int) -> Customer:
    """One customer with home location and vehicles loaded; 404 when unknown."""
    return get_object_or_404(
        Customer.objects.select_related("home_location").prefetch_related("vehicles"),
        pk=customer_id,
    )


def vehicle_list(*, customer_id: int | None = None, query: str = "") -> QuerySet[Vehicle]:
    qs = Vehicle.objects.select_related("customer")
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if query:
        compact = query.replace(" ", "").upper()
        qs = qs.filter(Q(plate__startswith=compact) | Q(vin=compact))
    return qs


def appointment_list(
    *,
    location_id: int | None = None,
    customer_id: int | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    status: str | None = None,
) -> QuerySet[Appointment]:
    qs = Appointment.objects.select_related("customer", "vehicle", "location").prefetch_related(
        "services"
    )
    if location_id is not None:
        qs = qs.filter(location_id=location_id)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if start_from is not None:
        qs = qs.filter(start_at__gte=start_from)
    if start_to is not None:
        qs = qs.filter(start_at__lt=start_to)
    if status:
        qs = qs.filter(status=status)
    return qs


def appointment_conflicts(
    *, vehicle_id: int, start_at: datetime, end_at: datetime, exclude_id: int | None = None
) -> list[Appointment]:
    """Active appointments of the same vehicle that overlap [start_at, end_at)."""
    candidates = (
        Appointment.objects.filter(
            vehicle_id=vehicle_id, status__in=APPOINTMENT_ACTIVE, start_at__lt=end_at,
            start_at__gt=start_at - _MAX_DURATION,
        )
        .exclude(pk=exclude_id)
        .select_related("location")
    )
    return [a for a in candidates if a.end_at > start_at]


def job_card_list(
    *, customer_id: int | None = None, location_id: int | None = None, status: str | None = None
) -> QuerySet[JobCard]:
    qs = JobCard.objects.select_related("customer", "vehicle", "location", "advisor")
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if location_id is not None:
        qs = qs.filter(location_id=location_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def job_card_get(*, job_card_id: int) -> JobCard:
    """A job card with its lines (and their parts and templates) in three queries."""
    return get_object_or_404(
        JobCard.objects.select_related(
            "customer", "vehicle", "location", "advisor", "appointment"
        ).prefetch_related(
            Prefetch(
                "lines",
                queryset=JobLine.objects.select_related("part", "service_template", "technician"),
            )
        ),
        pk=job_card_id,
    )


def note_list(*, customer_id: int) -> QuerySet[Note]:
    return Note.objects.filter(customer_id=customer_id).select_related("author")

