"""Every write of the shop core. Validate first, change, record the event — one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from servicebay.activity.services import record
from servicebay.core.actors import Actor
from servicebay.core.errors import Conflict, DomainError, InvalidTransition
from servicebay.core.money import quantize_money

from . import signals
from .choices import (
    APPOINTMENT_TRANSITIONS,
    JOB_CARD_TRANSITIONS,
    AppointmentStatus,
    JobCardStatus,
    JobLineKind,
    Payer,
)
from .models import (
    Appointment,
    Customer,
    JobCard,
    JobLine,
    Location,
    Note,
    Part,
    ServiceTemplate,
    Vehicle,
)
from .validators import normalize_phone, normalize_vin

CUSTOMER_FIELDS = (
    "first_name", "last_name", "phone", "email", "birthday", "preferred_channel", "language",
    "time_zone", "home_location",
)
VEHICLE_FIELDS = ("vin", "make", "model", "year", "plate", "odometer", "odometer_unit")


def _full_clean(obj, *, exclude: Iterable[str] = ()) -> None:
    """Model validation; Django's ValidationError carries field names the API turns into paths."""
    obj.full_clean(exclude=list(exclude))


def _assign(obj, fields: tuple[str, ...], values: dict[str, Any]) -> list[str]:
    unknown = set(values) - set(fields)
    if unknown:
        raise DomainError(f"Unknown field(s): {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


def _check_fields(model, values: dict[str, Any]) -> None:
    editable = {f.name for f in model._meta.concrete_fields if f.editable and not f.primary_key}
    unknown = set(values) - editable
    if unknown:
        raise DomainError(f"Unknown field(s): {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])


def _normalize_contact(values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    for key in ("first_name", "last_name", "email", "plate", "make", "model"):
        if isinstance(values.get(key), str):
            values[key] = values[key].strip()
    if values.get("email"):
        values["email"] = values["email"].lower()
    if "phone" in values:
        try:
            values["phone"] = normalize_phone(values["phone"] or "")
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
    if "vin" in values:
        values["vin"] = normalize_vin(values["vin"] or "")
    if isinstance(values.get("plate"), str):
        # One canonical form, so "abc-123", "ABC 123" and "ABC123" are the same plate to search.
        values["plate"] = compact_plate(values["plate"])
    if values.get("birthday") and values["birthday"] > timezone.localdate():
        raise ValidationError({"birthday": ["A birthday cannot be in the future."]})
    return values


def compact_plate(value: str) -> str:
    """A licence plate as stored and searched: upper case, without spaces or dashes."""
    return "".join(value.split()).replace("-", "").upper()


# --- locations and catalog ---------------------------------------------------------------------


def _normalize_location(values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    if isinstance(values.get("name"), str):
        values["name"] = values["name"].strip()
    if isinstance(values.get("phone"), str):
        try:
            values["phone"] = normalize_phone(values["phone"])
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
    return values


@transaction.atomic
def location_create(**fields: Any) -> Location:
    """Create a shop location; the time zone must be an IANA name, the phone becomes E.164."""
    values = _normalize_location(fields)
    _check_fields(Location, values)
    location = Location(**values)
    _full_clean(location)
    location.save()
    return location


@transaction.atomic
def location_update(*, location: Location, **fields: Any) -> Location:
    """Change a location's details (name, time zone, quiet hours …)."""
    values = _normalize_location(fields)
    _check_fields(Location, values)
    for name, value in values.items():
        setattr(location, name, value)
    _full_clean(location)
    location.save()
    return location


@transaction.atomic
def service_template_create(**fields: Any) -> ServiceTemplate:
    """Add a service to the catalog."""
    template = ServiceTemplate(**fields)
    _full_clean(template)
    template.save()
    return template


@transaction.atomic
def service_template_update(*, template: ServiceTemplate, **fields: Any) -> ServiceTemplate:
    """Change a catalog service; existing job lines keep the price they were written with."""
    _check_fields(ServiceTemplate, fields)
    for name, value in fields.items():
        setattr(template, name, value)
    _full_clean(template)
    template.save()
    return template


@transaction.atomic
def part_create(**fields: Any) -> Part:
    """Add a part to the catalog."""
    part = Part(**fields)
    _full_clean(part)
    part.save()
    return part


@transaction.atomic
def part_update(*, part: Part, **fields: Any) -> Part:
    """Change a catalog part; existing job lines keep the price they were written with."""
    _check_fields(Part, fields)
    for name, value in fields.items():
        setattr(part, name, value)
    _full_clean(part)
    part.save()
    return part


# --- customers and vehicles --------------------------------------------------------------------


@transaction.atomic
def customer_create(*, actor: Actor, **fields: Any) -> Customer:
    """Create a customer (phone normalised to E.164, email lower-cased) and record it."""
    values = _normalize_contact(fields)
    customer = Customer()
    _assign(customer, CUSTOMER_FIELDS, values)
    _full_clean(customer)
    customer.save()
    record("customer.created", actor=actor, customer=customer, subject=customer)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor: Actor, **fields: Any) -> Customer:
    """Change a customer's details; the event lists which fields changed (not their values)."""
    values = _normalize_contact(fields)
    changed = _assign(customer, CUSTOMER_FIELDS, values)
    if not changed:
        return customer
    _full_clean(customer)
    customer.save()
    record("customer.updated", actor=actor, customer=customer, subject=customer,
           payload={"fields": sorted(changed)})
    return customer


@transaction.atomic
def vehicle_create(*, customer: Customer, actor: Actor, **fields: Any) -> Vehicle:
    """Register a vehicle to its owner."""
    values = _normalize_contact(fields)
    vehicle = Vehicle(customer=customer)
    _assign(vehicle, VEHICLE_FIELDS, values)
    _full_clean(vehicle, exclude=["customer"])
    try:
        with transaction.atomic():
            vehicle.save()
    except IntegrityError as exc:
        raise DomainError("Another vehicle already has this VIN.", field="vin") from exc
    record("vehicle.added", actor=actor, customer=customer, subject=vehicle,
           payload={"label": str(vehicle)})
    return vehicle


@transaction.atomic
def vehicle_update(*, vehicle: Vehicle, actor: Actor, **fields: Any) -> Vehicle:
    """Correct a vehicle's details (VIN, plate, odometer …); a VIN stays unique."""
    values = _normalize_contact(fields)
    changed = _assign(vehicle, VEHICLE_FIELDS, values)
    if not changed:
        return vehicle
    _full_clean(vehicle, exclude=["customer"])
    try:
        with transaction.atomic():
            vehicle.save()
    except IntegrityError as exc:
        raise DomainError("Another vehicle already has this VIN.", field="vin") from exc
    record("vehicle.updated", actor=actor, customer=vehicle.customer, subject=vehicle,
           payload={"fields": sorted(changed)})
    return vehicle


def _vehicle_reading(vehicle: Vehicle, odometer: int | None) -> None:
    """Keep the vehicle's odometer at its highest known reading."""
    if odometer is not None and odometer > vehicle.odometer:
        Vehicle.objects.filter(pk=vehicle.pk, odometer__lt=odometer).update(odometer=odometer)
        vehicle.odometer = odometer


# --- appointments ------------------------------------------------------------------------------


def _check_owner(customer: Customer, vehicle: Vehicle) -> None:
    if vehicle.customer_id != customer.pk:
        raise DomainError("This vehicle belongs to another customer.", field="vehicle_id")


@transaction.atomic
def appointment_book(
    *,
    actor: Actor,
    customer: Customer,
    vehicle: Vehicle,
    location: Location,
    start_at: datetime,
    duration_minutes: int = 60,
    services: Iterable[ServiceTemplate] = (),
    notes: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Book a visit. Start must be in the future; the vehicle must be the customer's."""
    _check_owner(customer, vehicle)
    now = now or timezone.now()
    if timezone.is_naive(start_at):
        raise DomainError("Give the start time with its UTC offset.", field="start_at")
    if start_at < now - timedelta(minutes=5):
        raise DomainError("An appointment cannot start in the past.", field="start_at")
    appointment = Appointment(
        customer=customer, vehicle=vehicle, location=location, start_at=start_at,
        duration_minutes=duration_minutes, notes=notes.strip(), created_by=actor.user,
    )
    _full_clean(appointment)
    appointment.save()
    services = list(services)
    if services:
        appointment.services.set(services)
    record(
        "appointment.booked", actor=actor, customer=customer, subject=appointment,
        payload={
            "start_at": start_at.isoformat(), "location": location.name,
            "vehicle": str(vehicle), "services": [s.code for s in services],
        },
    )
    return appointment


@transaction.atomic
def appointment_set_status(*, appointment: Appointment, status: str, actor: Actor) -> Appointment:
    """Move an appointment along its workflow (confirm, no-show, cancel, check in)."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if status not in APPOINTMENT_TRANSITIONS.get(appointment.status, ()):
        raise InvalidTransition(
            f"An appointment that is {appointment.get_status_display().lower()} cannot become "
            f"{AppointmentStatus(status).label.lower() if status in AppointmentStatus.values else status}.",
            field="status",
        )
    previous = appointment.status
    appointment.status = status
    appointment.save(update_fields=["status"])
    record(f"appointment.{status}", actor=actor, customer=appointment.customer,
           subject=appointment, payload={"from": previous})
    return appointment


@transaction.atomic
def appointment_reschedule(
    *, appointment: Appointment, start_at: datetime, actor: Actor, duration_minutes: int | None = None
) -> Appointment:
    """Move a booked or confirmed appointment to another (future) time."""
    if timezone.is_naive(start_at):
        raise DomainError("Give the start time with its UTC offset.", field="start_at")
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED):
        raise InvalidTransition("Only a booked or confirmed appointment can be moved.", field="start_at")
    if start_at < timezone.now() - timedelta(minutes=5):
        raise DomainError("An appointment cannot start in the past.", field="start_at")
    previous = appointment.start_at
    appointment.start_at = start_at
    if duration_minutes is not None:
        appointment.duration_minutes = duration_minutes
    _full_clean(appointment)
    appointment.save()
    record("appointment.rescheduled", actor=actor, customer=appointment.customer,
           subject=appointment, payload={"from": previous.isoformat(), "to": start_at.isoformat()})
    return appointment


# --- job cards ---------------------------------------------------------------------------------


def _next_job_card_number(location: Location) -> int:
    """Allocate the next number of a location under a row lock (safe with many web processes)."""
    locked = Location.objects.select_for_update().only("next_job_card_number").get(pk=location.pk)
    number = locked.next_job_card_number
    Location.objects.filter(pk=location.pk).update(next_job_card_number=F("next_job_card_number") + 1)
    return number


@transaction.atomic
def job_card_open(
    *,
    actor: Actor,
    location: Location,
    customer: Customer,
    vehicle: Vehicle,
    appointment: Appointment | None = None,
    odometer_in: int | None = None,
    advisor=None,
) -> JobCard:
    """Open a job card, from an appointment (which becomes checked in) or as a walk-in."""
    _check_owner(customer, vehicle)
    if odometer_in is not None and odometer_in < 0:
        raise DomainError("The odometer reading cannot be negative.", field="odometer_in")
    if appointment is not None:
        # Locked first: two advisors checking in the same appointment get one card and one 409.
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.customer_id != customer.pk or appointment.vehicle_id != vehicle.pk:
            raise DomainError("The appointment is for another customer or vehicle.", field="appointment_id")
        if JobCard.objects.filter(appointment=appointment).exists():
            raise Conflict("This appointment already has a job card.", field="appointment_id")
        if appointment.status in (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED):
            appointment = appointment_set_status(
                appointment=appointment, status=AppointmentStatus.CHECKED_IN, actor=actor
            )
        elif appointment.status != AppointmentStatus.CHECKED_IN:
            # A checked-in appointment without a card (checked in at the desk) may still get one.
            raise InvalidTransition(
                f"A {appointment.get_status_display().lower()} appointment cannot be checked in.",
                field="appointment_id",
            )
    card = JobCard.objects.create(
        location=location, number=_next_job_card_number(location), customer=customer,
        vehicle=vehicle, appointment=appointment, advisor=advisor or actor.user,
        odometer_in=odometer_in,
    )
    _vehicle_reading(vehicle, odometer_in)
    if appointment is not None:
        for position, template in enumerate(appointment.services.all(), start=1):
            _line_from_template(card, template, position)
        job_card_recalculate(card)
    record("jobcard.opened", actor=actor, customer=customer, subject=card,
           payload={"number": card.number, "location": location.name, "vehicle": str(vehicle)})
    return card


def _line_from_template(card: JobCard, template: ServiceTemplate, position: int) -> JobLine:
    return JobLine.objects.create(
        job_card=card, position=position, kind=JobLineKind.LABOR, description=template.name,
        service_template=template, quantity=Decimal("1"), unit_price=template.price,
    )


# The largest amount a money column holds (12 digits, 2 decimals).
MAX_AMOUNT = Decimal("9999999999.99")


def line_amounts(line: JobLine) -> tuple[Decimal, Decimal]:
    """(net, tax) of one line, signed (discounts negative), each rounded to cents once."""
    net = quantize_money(line.quantity * line.unit_price) * line.sign
    tax = quantize_money(net * line.tax_rate)
    return net, tax


def job_card_recalculate(card: JobCard) -> JobCard:
    """Recompute the stored totals from the lines. Call inside the writing transaction."""
    subtotal = discount = tax = Decimal("0")
    for line in card.lines.all():
        net, line_tax = line_amounts(line)
        if line.kind == JobLineKind.DISCOUNT:
            discount -= net
        else:
            subtotal += net
        tax += line_tax
    total = subtotal - discount + tax
    if total < 0:
        raise DomainError("Discounts cannot exceed the job card's total.", field="unit_price")
    if max(subtotal, discount, abs(tax), total) > MAX_AMOUNT:
        raise DomainError("The job card's amounts are too large.", field="quantity")
    card.subtotal, card.discount_total, card.tax_total, card.total = subtotal, discount, tax, total
    card.save(update_fields=["subtotal", "discount_total", "tax_total", "total", "updated_at"])
    return card


def _lock_editable(card: JobCard) -> JobCard:
    card = JobCard.objects.select_for_update().get(pk=card.pk)
    if not card.is_editable:
        raise InvalidTransition(
            f"A {card.get_status_display().lower()} job card cannot be changed; reopen it first.",
            field="job_card",
        )
    return card


@transaction.atomic
def job_line_add(
    *,
    job_card: JobCard,
    actor: Actor,
    kind: str,
    description: str = "",
    quantity: Decimal = Decimal("1"),
    unit_price: Decimal | None = None,
    tax_rate: Decimal = Decimal("0"),
    part: Part | None = None,
    service_template: ServiceTemplate | None = None,
    payer: str = Payer.CUSTOMER,
    technician=None,
) -> JobLine:
    """Add a labor, part, fee or discount line; prices default from the part or the template."""
    card = _lock_editable(job_card)
    if kind not in JobLineKind.values:
        raise DomainError(f"Unknown line kind {kind!r}.", field="kind")
    if kind == JobLineKind.PART and part is None:
        raise DomainError("A part line needs a part.", field="part_id")
    source = part or service_template
    if unit_price is None:
        if source is None:
            raise DomainError("Give a unit price.", field="unit_price")
        unit_price = source.price
    if not description:
        description = source.name if source is not None else JobLineKind(kind).label
    position = (card.lines.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    line = JobLine(
        job_card=card, position=position, kind=kind, description=description.strip(),
        quantity=quantity, unit_price=unit_price, tax_rate=tax_rate, part=part,
        service_template=service_template, payer=payer, technician=technician,
    )
    _full_clean(line, exclude=["job_card"])
    line.save()
    job_card_recalculate(card)
    signals.job_card_totals_changed.send(sender=JobCard, job_card=card, actor=actor)
    return line


@transaction.atomic
def job_line_update(*, line: JobLine, actor: Actor, **fields: Any) -> JobLine:
    """Change a line of an open or in-progress card; the card's totals follow."""
    card = _lock_editable(line.job_card)
    allowed = {"description", "quantity", "unit_price", "tax_rate", "payer", "technician"}
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(f"Unknown field(s): {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    for name, value in fields.items():
        setattr(line, name, value)
    _full_clean(line, exclude=["job_card"])
    line.save()
    job_card_recalculate(card)
    signals.job_card_totals_changed.send(sender=JobCard, job_card=card, actor=actor)
    return line


@transaction.atomic
def job_line_remove(*, line: JobLine, actor: Actor) -> JobCard:
    """Remove a line of an open or in-progress card; the card's totals follow."""
    card = _lock_editable(line.job_card)
    line_id = line.pk
    line.delete()
    line.pk = line_id
    signals.job_line_removed.send(sender=JobCard, job_card=card, line=line, actor=actor)
    job_card_recalculate(card)
    signals.job_card_totals_changed.send(sender=JobCard, job_card=card, actor=actor)
    return card


_TIMESTAMP_OF = {
    JobCardStatus.IN_PROGRESS: "started_at",
    JobCardStatus.COMPLETED: "completed_at",
    JobCardStatus.CLOSED: "closed_at",
    JobCardStatus.CANCELLED: "cancelled_at",
}
_EVENT_OF = {
    JobCardStatus.IN_PROGRESS: "jobcard.started",
    JobCardStatus.COMPLETED: "jobcard.completed",
    JobCardStatus.CLOSED: "jobcard.closed",
    JobCardStatus.CANCELLED: "jobcard.cancelled",
}


@transaction.atomic
def job_card_transition(*, job_card: JobCard, to_status: str, actor: Actor) -> JobCard:
    """Move a job card along DESIGN §2's workflow; reopening a completed card is its own event."""
    card = JobCard.objects.select_for_update().get(pk=job_card.pk)
    if to_status not in JobCardStatus.values:
        raise DomainError(f"Unknown status {to_status!r}.", field="status")
    if to_status not in JOB_CARD_TRANSITIONS[card.status]:
        raise InvalidTransition(
            f"A {card.get_status_display().lower()} job card cannot become "
            f"{JobCardStatus(to_status).label.lower()}.",
            field="status",
        )
    if to_status == JobCardStatus.COMPLETED and not card.lines.exists():
        raise DomainError("Add at least one line before completing the job card.", field="status")
    previous = card.status
    now = timezone.now()
    reopening = previous == JobCardStatus.COMPLETED and to_status == JobCardStatus.IN_PROGRESS
    card.status = to_status
    if reopening:
        card.completed_at = None
    else:
        setattr(card, _TIMESTAMP_OF[to_status], now)
    card.save()
    kind = "jobcard.reopened" if reopening else _EVENT_OF[to_status]
    record(kind, actor=actor, customer=card.customer, subject=card,
           payload={"number": card.number, "from": previous, "total": str(card.total)})
    signals.job_card_status_changed.send(sender=JobCard, job_card=card, previous=previous, actor=actor)
    return card


# --- notes -------------------------------------------------------------------------------------


@transaction.atomic
def note_add(*, customer: Customer, actor: Actor, body: str, pinned: bool = False) -> Note:
    """Write a note on a customer; it shows at the top of the activity feed."""
    body = (body or "").strip()
    if not body:
        raise DomainError("A note cannot be empty.", field="body")
    if len(body) > 5000:
        raise DomainError("A note can be at most 5,000 characters.", field="body")
    note = Note.objects.create(customer=customer, author=actor.user, body=body, pinned=pinned)
    record("note.added", actor=actor, customer=customer, subject=note,
           payload={"excerpt": body[:140], "pinned": pinned})
    return note


@transaction.atomic
def note_set_pinned(*, note: Note, pinned: bool, actor: Actor) -> Note:
    """Pin a note to the top of the customer's notes, or unpin it."""
    if note.pinned != pinned:
        note.pinned = pinned
        note.save(update_fields=["pinned"])
    return note
