"""Every read of the shop core that a page or endpoint needs, with the joins that keep it flat."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404

from .choices import APPOINTMENT_ACTIVE, JOB_CARD_EDITABLE
from .models import Appointment, Customer, JobCard, JobLine, Location, Note, Part, Vehicle
from .validators import VIN_RE, normalize_phone

_DIGITS = re.compile(r"\D")
# Longest appointment the model allows; bounds the overlap scan to an index range.
_MAX_DURATION = timedelta(hours=24)


def _prefix_range(prefix: str) -> tuple[str, str]:
    """[prefix, next): a prefix match as an index range scan (LIKE cannot use our indexes)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _lower_prefix(field: str, prefix: str) -> QuerySet:
    lo, hi = _prefix_range(prefix)
    return (
        Customer.objects.annotate(key=Lower(field))
        .filter(key__gte=lo, key__lt=hi)
        .order_by()
        .values("pk")
    )


def customer_search(*, query: str = "") -> QuerySet[Customer]:
    """Customers matching a name, phone, email, plate or VIN.

    Each branch is an indexed equality or range scan returning ids, and the branches are combined
    with UNION — no OR across a join, no DISTINCT, no leading wildcard — so a search stays in
    milliseconds at a million customers (bench/bench_shop.py holds it to the hand-written SQL).
    """
    qs = Customer.objects.select_related("home_location")
    query = " ".join(query.split())
    if not query:
        return qs
    lowered = query.lower()
    if "@" in query:
        return qs.filter(pk__in=_lower_prefix("email", lowered))
    compact = query.replace(" ", "").replace("-", "").upper()
    if VIN_RE.match(compact):
        # Repeating the partial unique index's condition lets SQLite use that index.
        return qs.filter(
            pk__in=Vehicle.objects.filter(vin=compact).exclude(vin="").order_by().values("customer_id")
        )
    digits = _DIGITS.sub("", query)
    if len(digits) >= 7 and len(digits) >= len(query.replace(" ", "")) - 4:
        # Phones are stored in E.164: a full number, however typed, is an exact (indexed) match;
        # a fragment falls back to matching the tail.
        try:
            return qs.filter(phone=normalize_phone(query))
        except ValidationError:
            return qs.filter(phone__endswith=digits[-10:])
    lo, hi = _prefix_range(compact)
    branches = [
        Vehicle.objects.filter(plate__gte=lo, plate__lt=hi).order_by().values("customer_id")
    ]
    parts = lowered.split(" ")
    if len(parts) >= 2:
        first, rest = parts[0], " ".join(parts[1:])
        for a, b in ((first, rest), (rest, first)):
            (a_lo, a_hi), (b_lo, b_hi) = _prefix_range(a), _prefix_range(b)
            branches.append(
                Customer.objects.annotate(f=Lower("first_name"), last=Lower("last_name"))
                .filter(f__gte=a_lo, f__lt=a_hi, last__gte=b_lo, last__lt=b_hi)
                .order_by()
                .values("pk")
            )
    else:
        branches += [_lower_prefix("last_name", lowered), _lower_prefix("first_name", lowered)]
    return qs.filter(pk__in=branches[0].union(*branches[1:]))


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
        compact = query.replace(" ", "").replace("-", "").upper()
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



# --- reads of the HTML screens -----------------------------------------------------------------


def location_list() -> QuerySet[Location]:
    """Every shop location, by name (a short table)."""
    return Location.objects.all()


def local_day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of one calendar day in ``tz_name`` (23 or 25 hours across DST)."""
    zone = zoneinfo.ZoneInfo(tz_name)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def appointment_day(*, location: Location, day: date) -> QuerySet[Appointment]:
    """One location's appointments on one local calendar day, earliest first, with job cards."""
    start, end = local_day_bounds(day, location.time_zone)
    return (
        appointment_list(location_id=location.pk, start_from=start, start_to=end)
        .select_related("job_card")
        .order_by("start_at", "id")
    )


def appointments_today(*, locations: list[Location], now: datetime) -> list[Appointment]:
    """Appointments on each location's own local "today", earliest first."""
    condition = Q()
    for location in locations:
        today = now.astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()
        start, end = local_day_bounds(today, location.time_zone)
        condition |= Q(location_id=location.pk, start_at__gte=start, start_at__lt=end)
    if not locations:
        return []
    return list(
        appointment_list().filter(condition).select_related("job_card").order_by("start_at", "id")
    )


def job_cards_active(*, location_ids: list[int] | None = None) -> QuerySet[JobCard]:
    """Job cards still in the workshop (open or in progress), oldest first."""
    qs = job_card_list().filter(status__in=JOB_CARD_EDITABLE)
    if location_ids is not None:
        qs = qs.filter(location_id__in=location_ids)
    return qs.order_by("opened_at", "id")


def job_card_filtered(*, status: str = "", location_id: int | None = None) -> QuerySet[JobCard]:
    """The job cards list: one status, "active" (open or in progress) or any, per location."""
    if status == "active":
        qs = job_card_list(location_id=location_id).filter(status__in=JOB_CARD_EDITABLE)
    else:
        qs = job_card_list(location_id=location_id, status=status or None)
    return qs


@dataclass
class CustomerPage:
    customer: Customer
    vehicles: list[Vehicle]
    notes: list[Note]
    upcoming: list[Appointment]
    job_cards: list[JobCard]


def customer_page(
    *, customer_id: int, now: datetime, notes: int = 20, appointments: int = 10, job_cards: int = 10
) -> CustomerPage:
    """Everything the customer screen shows, in a fixed number of queries whatever the history."""
    customer = customer_get(customer_id=customer_id)
    upcoming = (
        appointment_list(customer_id=customer.pk, start_from=now - timedelta(hours=12))
        .filter(status__in=APPOINTMENT_ACTIVE)
        .order_by("start_at", "id")[:appointments]
    )
    return CustomerPage(
        customer=customer,
        vehicles=list(customer.vehicles.all()),
        notes=list(note_list(customer_id=customer.pk)[:notes]),
        upcoming=list(upcoming),
        job_cards=list(job_card_list(customer_id=customer.pk)[:job_cards]),
    )


def part_list_active() -> QuerySet[Part]:
    """Parts that can go on a job card."""
    return Part.objects.filter(is_active=True)


PART_SEARCH_LIMIT = 20


def part_search(*, query: str, limit: int = PART_SEARCH_LIMIT) -> list[Part]:
    """Up to ``limit`` active parts for the job line's part picker: part numbers first, then names.

    A part number matches from its start, as typed or upper-cased: a left-anchored LIKE, which
    PostgreSQL answers from the ``varchar_pattern_ops`` index Django adds beside the unique one on
    ``sku`` whatever the collation. Names match anywhere (a scan) and are asked only when the
    numbers leave room, so one or two queries whatever the catalogue's size.
    """
    query = query.strip()
    if not query:
        return []
    parts = part_list_active().only("pk", "sku", "name", "price")
    by_number = Q()
    for prefix in dict.fromkeys([query, query.upper()]):
        by_number |= Q(sku__startswith=prefix)
    found = list(parts.filter(by_number).order_by("sku")[:limit])
    if len(found) < limit:
        found += parts.filter(name__icontains=query).exclude(pk__in=[p.pk for p in found]).order_by(
            "name", "sku")[: limit - len(found)]
    return found


def customer_rows(*, query: str = "") -> QuerySet[Customer]:
    """The customers list: search results with each customer's vehicles (for plates)."""
    return customer_search(query=query).prefetch_related("vehicles")
