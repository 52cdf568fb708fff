"""Every write of the visits app. Validate first, change, record the event — one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from servicebay.activity.services import record
from servicebay.core.actors import Actor
from servicebay.core.errors import Conflict, DomainError, InvalidTransition
from servicebay.shop import services as shop_services
from servicebay.shop.choices import JOB_CARD_EDITABLE, AppointmentStatus, JobCardStatus, JobLineKind
from servicebay.shop.models import (
    Appointment,
    Customer,
    JobCard,
    Location,
    ServiceTemplate,
    Vehicle,
)

from .choices import (
    RECOMMENDATION_TRANSITIONS,
    SATISFACTION_LINK_MAX_AGE,
    SATISFACTION_MAX,
    SATISFACTION_MIN,
    RecommendationStatus,
    SatisfactionSource,
    VisitType,
)
from .models import CustomerVisit, VisitRecommendation

# Check-out is allowed once the work is finished; a cancelled card ends the stay with no spend.
CHECK_OUT_READY = (JobCardStatus.COMPLETED, JobCardStatus.CLOSED, JobCardStatus.CANCELLED)
SATISFACTION_LINK_SALT = "servicebay.visits.satisfaction"
# Accepted work is booked at most this far ahead; beyond it the price and the need are guesses.
BOOKING_HORIZON = timedelta(days=365)


class SatisfactionLinkInvalid(DomainError):
    """The survey link was altered or is not one of ours."""

    status_code = 400

    def __init__(self) -> None:
        super().__init__(
            "This survey link is not valid. Please use the link exactly as we sent it.",
            field="token",
        )


class SatisfactionLinkExpired(DomainError):
    """The survey link is older than SATISFACTION_LINK_MAX_AGE."""

    status_code = 410

    def __init__(self) -> None:
        days = SATISFACTION_LINK_MAX_AGE.days
        super().__init__(
            f"This survey link has expired (links are valid for {days} days).", field="token"
        )


class AlreadyRated(Conflict):
    def __init__(self) -> None:
        super().__init__("This visit has already been rated. Thank you!", field="score")


def spend_of(job_card: JobCard) -> Decimal:
    """What the customer spent on a card: its total, or nothing when the work was cancelled."""
    if job_card.status == JobCardStatus.CANCELLED:
        return Decimal("0.00")
    return job_card.total


# --- check-in and check-out -----------------------------------------------------------------


def _resolve_check_in(
    *,
    location: Location | None,
    customer: Customer | None,
    vehicle: Vehicle | None,
    appointment: Appointment | None,
    job_card: JobCard | None,
) -> tuple[Location | None, Customer, Vehicle, Appointment | None, JobCard | None]:
    """Fill in what the appointment or job card implies and check that the pieces agree."""
    if job_card is not None:
        if job_card.appointment_id is not None:
            if appointment is not None and appointment.pk != job_card.appointment_id:
                raise DomainError("The job card belongs to another appointment.", field="job_card_id")
            appointment = job_card.appointment
        if vehicle is not None and vehicle.pk != job_card.vehicle_id:
            raise DomainError("The job card is for another vehicle.", field="job_card_id")
        if location is not None and location.pk != job_card.location_id:
            raise DomainError("The job card is at another location.", field="job_card_id")
        vehicle = vehicle or job_card.vehicle
        location = job_card.location
    if appointment is not None:
        if customer is not None and customer.pk != appointment.customer_id:
            raise DomainError("The appointment is for another customer.", field="appointment_id")
        if vehicle is not None and vehicle.pk != appointment.vehicle_id:
            raise DomainError("The appointment is for another vehicle.", field="appointment_id")
        customer = customer or appointment.customer
        vehicle = vehicle or appointment.vehicle
        location = location or appointment.location
    if vehicle is None:
        raise DomainError("Choose the vehicle that is checking in.", field="vehicle_id")
    if customer is None:
        customer = vehicle.customer
    if vehicle.customer_id != customer.pk:
        raise DomainError("This vehicle belongs to another customer.", field="vehicle_id")
    if job_card is not None and job_card.customer_id != customer.pk:
        raise DomainError("The job card is for another customer.", field="job_card_id")
    return location, customer, vehicle, appointment, job_card


def _attachable_card(job_card: JobCard) -> JobCard:
    if job_card.status not in JOB_CARD_EDITABLE:
        raise InvalidTransition(
            f"A {job_card.get_status_display().lower()} job card cannot start a visit.",
            field="job_card_id",
        )
    if CustomerVisit.objects.filter(job_card=job_card).exists():
        raise Conflict("This job card already belongs to a visit.", field="job_card_id")
    return job_card


@transaction.atomic
def visit_check_in(
    *,
    actor: Actor,
    location: Location | None = None,
    customer: Customer | None = None,
    vehicle: Vehicle | None = None,
    appointment: Appointment | None = None,
    job_card: JobCard | None = None,
    odometer_in: int | None = None,
    advisor=None,
    check_in_at: datetime | None = None,
) -> CustomerVisit:
    """Check a vehicle in: from an appointment (scheduled) or as a walk-in.

    The visit gets the job card given, else the vehicle's open card that has no visit yet (the
    appointment's, for a scheduled visit), else a new card opened through the shop.
    """
    now = timezone.now()
    check_in_at = check_in_at or now
    if timezone.is_naive(check_in_at):
        raise DomainError("Give the check-in time with its UTC offset.", field="check_in_at")
    if check_in_at > now:
        raise DomainError("A check-in cannot be in the future.", field="check_in_at")
    if job_card is not None:
        # The caller's copy may be stale; decide on the row as it is now, and hold it.
        job_card = (
            JobCard.objects.select_for_update(of=("self",))
            .select_related("appointment", "location", "vehicle")
            .get(pk=job_card.pk)
        )
    location, customer, vehicle, appointment, job_card = _resolve_check_in(
        location=location, customer=customer, vehicle=vehicle, appointment=appointment,
        job_card=job_card,
    )
    if location is None:
        raise DomainError("Choose the location the vehicle is checking in at.", field="location_id")
    if odometer_in is not None:
        if odometer_in < 0:
            raise DomainError("The odometer reading cannot be negative.", field="odometer_in")
        if odometer_in < vehicle.odometer:
            raise DomainError(
                f"The odometer reads less than the last known reading "
                f"({vehicle.odometer:,} {vehicle.odometer_unit}).",
                field="odometer_in",
            )
    if appointment is not None and CustomerVisit.objects.filter(appointment=appointment).exists():
        raise Conflict("This appointment has already been checked in.", field="appointment_id")
    open_visit = (
        CustomerVisit.objects.filter(vehicle=vehicle, check_out_at__isnull=True).only("pk").first()
    )
    if open_visit is not None:
        raise Conflict(
            f"This vehicle is still checked in (visit #{open_visit.pk}); check it out first.",
            field="vehicle_id",
        )

    if job_card is None:
        existing = (
            JobCard.objects.filter(appointment=appointment)
            if appointment is not None
            else JobCard.objects.filter(vehicle=vehicle, status__in=JOB_CARD_EDITABLE, visit__isnull=True)
        )
        job_card = existing.select_related("appointment").order_by("-opened_at", "-id").first()
        if job_card is not None and job_card.appointment_id and appointment is None:
            appointment = job_card.appointment
    if job_card is None:
        job_card = shop_services.job_card_open(
            actor=actor, location=location, customer=customer, vehicle=vehicle,
            appointment=appointment, odometer_in=odometer_in, advisor=advisor,
        )
    else:
        _attachable_card(job_card)
        location = job_card.location
        if appointment is not None and (
            Appointment.objects.filter(pk=appointment.pk).values_list("status", flat=True).get()
            != AppointmentStatus.CHECKED_IN
        ):
            shop_services.appointment_set_status(
                appointment=appointment, status=AppointmentStatus.CHECKED_IN, actor=actor
            )
        if odometer_in is not None and odometer_in > vehicle.odometer:
            shop_services.vehicle_update(vehicle=vehicle, actor=actor, odometer=odometer_in)
        if odometer_in is None:
            odometer_in = job_card.odometer_in

    visit = CustomerVisit.objects.create(
        customer=customer, vehicle=vehicle, job_card=job_card, appointment=appointment,
        visit_type=VisitType.SCHEDULED if appointment is not None else VisitType.WALK_IN,
        location=location, advisor=advisor or actor.user, odometer_in=odometer_in,
        check_in_at=check_in_at, total_spend=spend_of(job_card),
    )
    record(
        "visit.checked_in", actor=actor, customer=customer, subject=visit,
        payload={
            "visit_type": visit.visit_type, "location": location.name, "vehicle": str(vehicle),
            "job_card": job_card.pk, "appointment": appointment.pk if appointment else None,
            "odometer_in": odometer_in,
        },
    )
    return visit


@transaction.atomic
def visit_check_out(
    *, visit: CustomerVisit, actor: Actor, check_out_at: datetime | None = None
) -> CustomerVisit:
    """Check a vehicle out once its job card is completed; the spend is the card's final total."""
    visit = (
        CustomerVisit.objects.select_for_update(of=("self",))
        .select_related("location", "customer")
        .get(pk=visit.pk)
    )
    if visit.check_out_at is not None:
        raise Conflict(
            f"This visit was already checked out at {visit.check_out_at:%Y-%m-%d %H:%M} UTC.",
            field="check_out_at",
        )
    card = JobCard.objects.get(pk=visit.job_card_id)
    if card.status not in CHECK_OUT_READY:
        raise InvalidTransition(
            f"The job card is {card.get_status_display().lower()}; complete it before checking out.",
            field="job_card",
        )
    check_out_at = check_out_at or timezone.now()
    if timezone.is_naive(check_out_at):
        raise DomainError("Give the check-out time with its UTC offset.", field="check_out_at")
    if check_out_at < visit.check_in_at:
        raise DomainError("Check-out cannot be before check-in.", field="check_out_at")
    if check_out_at > timezone.now():
        raise DomainError("A check-out cannot be in the future.", field="check_out_at")
    visit.check_out_at = check_out_at
    visit.total_spend = spend_of(card)
    visit.save(update_fields=["check_out_at", "total_spend", "updated_at"])
    record(
        "visit.checked_out", actor=actor, customer=visit.customer, subject=visit,
        payload={
            "total_spend": str(visit.total_spend), "currency": visit.location.currency,
            "job_card": card.pk, "job_card_status": card.status,
            "location": visit.location.name,
        },
    )
    return visit


@transaction.atomic
def visit_spend_sync(*, job_card: JobCard) -> int:
    """Keep the visit's total_spend equal to its job card's (runs inside the shop's transaction)."""
    return (
        CustomerVisit.objects.filter(job_card_id=job_card.pk)
        .exclude(total_spend=spend_of(job_card))
        .update(total_spend=spend_of(job_card), updated_at=timezone.now())
    )


# --- satisfaction ---------------------------------------------------------------------------


def _validated_score(score) -> int:
    if isinstance(score, bool) or not isinstance(score, int):
        try:
            score = int(str(score).strip())
        except (TypeError, ValueError):
            raise DomainError(
                f"Give a whole number from {SATISFACTION_MIN} to {SATISFACTION_MAX}.", field="score"
            ) from None
    if not SATISFACTION_MIN <= score <= SATISFACTION_MAX:
        raise DomainError(
            f"The score must be from {SATISFACTION_MIN} (very dissatisfied) to "
            f"{SATISFACTION_MAX} (very satisfied).",
            field="score",
        )
    return score


@transaction.atomic
def visit_rate(
    *,
    visit: CustomerVisit,
    score: int,
    actor: Actor,
    comment: str = "",
    source: str = SatisfactionSource.ADVISOR,
) -> CustomerVisit:
    """Record the customer's satisfaction (1 to 5) once, after check-out."""
    score = _validated_score(score)
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise DomainError("A comment can be at most 2,000 characters.", field="comment")
    if source not in SatisfactionSource.values:
        raise DomainError(f"Unknown source {source!r}.", field="source")
    visit = (
        CustomerVisit.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=visit.pk)
    )
    if visit.check_out_at is None:
        raise InvalidTransition("Satisfaction is captured after check-out.", field="score")
    if visit.satisfaction_score is not None:
        raise AlreadyRated()
    visit.satisfaction_score = score
    visit.satisfaction_comment = comment
    visit.satisfaction_source = source
    visit.satisfaction_recorded_at = timezone.now()
    visit.satisfaction_recorded_by = actor.user
    visit.save(update_fields=[
        "satisfaction_score", "satisfaction_comment", "satisfaction_source",
        "satisfaction_recorded_at", "satisfaction_recorded_by", "updated_at",
    ])
    record(
        "visit.rated", actor=actor, customer=visit.customer, subject=visit,
        payload={"score": score, "source": source, "has_comment": bool(comment)},
    )
    return visit


def satisfaction_link_token(*, visit: CustomerVisit) -> str:
    """A signed, expiring token for the customer's survey page; only for checked-out visits."""
    if visit.check_out_at is None:
        raise InvalidTransition("A survey link is issued after check-out.", field="visit")
    return signing.dumps({"v": visit.pk}, salt=SATISFACTION_LINK_SALT, compress=True)


def satisfaction_link_path(*, visit: CustomerVisit) -> str:
    """The survey page's path with a fresh token, for a follow-up message to link to."""
    return reverse("visits:satisfaction_survey", args=[satisfaction_link_token(visit=visit)])


def satisfaction_link_visit(*, token: str) -> CustomerVisit:
    """The visit a survey token points at; raises SatisfactionLinkInvalid/Expired."""
    try:
        data = signing.loads(
            token, salt=SATISFACTION_LINK_SALT, max_age=SATISFACTION_LINK_MAX_AGE.total_seconds()
        )
    except signing.SignatureExpired:
        raise SatisfactionLinkExpired() from None
    except signing.BadSignature:
        raise SatisfactionLinkInvalid() from None
    if not isinstance(data, dict) or not isinstance(data.get("v"), int):
        raise SatisfactionLinkInvalid()
    visit = (
        CustomerVisit.objects.select_related("location", "vehicle", "customer")
        .filter(pk=data["v"]).first()
    )
    if visit is None:
        raise SatisfactionLinkInvalid()
    return visit


@transaction.atomic
def visit_rate_from_link(*, token: str, score: int, comment: str = "") -> CustomerVisit:
    """The customer rates a visit through the signed link (no login); accepted once."""
    visit = satisfaction_link_visit(token=token)
    actor = Actor.system(f"customer:{visit.customer_id}")
    return visit_rate(
        visit=visit, score=score, comment=comment, actor=actor,
        source=SatisfactionSource.CUSTOMER_LINK,
    )


# --- recommendations ------------------------------------------------------------------------


def _earlier_declined(visit: CustomerVisit, template: ServiceTemplate) -> VisitRecommendation | None:
    """The newest standing decline of the same service on this vehicle at an earlier visit."""
    return (
        VisitRecommendation.objects.filter(
            visit__vehicle_id=visit.vehicle_id, service_template=template,
            status=RecommendationStatus.DECLINED, recovered_by__isnull=True,
        )
        .exclude(visit=visit)
        .order_by("-declined_at", "-id")
        .first()
    )


@transaction.atomic
def recommendation_add(
    *,
    visit: CustomerVisit,
    service_template: ServiceTemplate,
    actor: Actor,
    notes: str = "",
    measured_value: str = "",
    estimated_price: Decimal | None = None,
) -> VisitRecommendation:
    """Recommend a service during a visit; links back to a standing decline of the same service."""
    visit = (
        CustomerVisit.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=visit.pk)
    )
    if visit.check_out_at is not None:
        raise InvalidTransition(
            "The visit is checked out; recommend the work at the next visit.", field="visit"
        )
    if not service_template.is_active:
        raise DomainError("This service is no longer offered.", field="service_template_id")
    notes, measured_value = (notes or "").strip(), (measured_value or "").strip()
    if len(measured_value) > 120:
        raise DomainError("Keep the measured value under 120 characters.", field="measured_value")
    if len(notes) > 2000:
        raise DomainError("Notes can be at most 2,000 characters.", field="notes")
    price = service_template.price if estimated_price is None else Decimal(estimated_price)
    if price < 0:
        raise DomainError("The estimated price cannot be negative.", field="estimated_price")
    if visit.recommendations.filter(
        service_template=service_template, status=RecommendationStatus.SUGGESTED
    ).exists():
        raise Conflict(
            "This service is already recommended on this visit.", field="service_template_id"
        )
    recommendation = VisitRecommendation.objects.create(
        visit=visit, service_template=service_template, notes=notes,
        measured_value=measured_value, estimated_price=price, created_by=actor.user,
        recovered_from=_earlier_declined(visit, service_template),
    )
    record(
        "recommendation.suggested", actor=actor, customer=visit.customer, subject=recommendation,
        payload={
            "visit": visit.pk, "service": service_template.code, "name": service_template.name,
            "measured_value": measured_value, "estimated_price": str(price),
            "recovered_from": recommendation.recovered_from_id,
        },
    )
    return recommendation


def _lock_for_decision(recommendation: VisitRecommendation, to_status: str) -> VisitRecommendation:
    rec = (
        VisitRecommendation.objects.select_for_update(of=("self",))
        .select_related("visit__customer", "visit__vehicle", "visit__location", "service_template")
        .get(pk=recommendation.pk)
    )
    if to_status not in RECOMMENDATION_TRANSITIONS[rec.status]:
        raise InvalidTransition(
            f"This recommendation is already {rec.get_status_display().lower()}; "
            f"it cannot be {RecommendationStatus(to_status).label.lower()}.",
            field="status",
        )
    return rec


def _open_card_for(vehicle_id: int, preferred_id: int) -> JobCard | None:
    cards = JobCard.objects.filter(vehicle_id=vehicle_id, status__in=JOB_CARD_EDITABLE)
    preferred = cards.filter(pk=preferred_id).first()
    return preferred or cards.order_by("-opened_at", "-id").first()


@transaction.atomic
def recommendation_accept(
    *,
    recommendation: VisitRecommendation,
    actor: Actor,
    start_at: datetime | None = None,
    location: Location | None = None,
    now: datetime | None = None,
) -> VisitRecommendation:
    """Accept a recommendation and create the work.

    With ``start_at`` the work is booked as an appointment; otherwise it becomes a line on the
    vehicle's open job card (the visit's own card first). A declined item may be accepted later.
    """
    rec = _lock_for_decision(recommendation, RecommendationStatus.ACCEPTED)
    later = rec.recovered_by.select_related("visit").first()
    if later is not None:
        raise Conflict(
            f"This item was recommended again at visit #{later.visit_id}; decide on that one.",
            field="status",
        )
    visit, template = rec.visit, rec.service_template
    if start_at is not None and timezone.is_naive(start_at):
        raise DomainError("Give the start time with its UTC offset.", field="start_at")
    if start_at is not None and start_at - (now or timezone.now()) > BOOKING_HORIZON:
        raise DomainError(
            f"Book the work within the next {BOOKING_HORIZON.days} days.", field="start_at"
        )
    if start_at is not None:
        rec.appointment = shop_services.appointment_book(
            actor=actor, customer=visit.customer, vehicle=visit.vehicle,
            location=location or visit.location, start_at=start_at, services=[template],
            notes=f"Recommended at the visit of {visit.check_in_at:%Y-%m-%d}: {template.name}"
            + (f" ({rec.measured_value})" if rec.measured_value else ""),
            now=now,
        )
    else:
        card = _open_card_for(visit.vehicle_id, visit.job_card_id)
        if card is None:
            raise DomainError(
                "This vehicle has no open job card; give a date and time to book the work.",
                field="start_at",
            )
        rec.job_line = shop_services.job_line_add(
            job_card=card, actor=actor, kind=JobLineKind.LABOR, description=template.name,
            unit_price=rec.estimated_price, service_template=template,
        )
    was_declined = rec.status == RecommendationStatus.DECLINED
    rec.status = RecommendationStatus.ACCEPTED
    rec.decided_by, rec.decided_by_label, rec.decided_at = actor.user, actor.label, timezone.now()
    rec.save(update_fields=[
        "status", "decided_by", "decided_by_label", "decided_at", "job_line", "appointment",
    ])
    record(
        "recommendation.accepted", actor=actor, customer=visit.customer, subject=rec,
        payload={
            "visit": visit.pk, "service": template.code, "name": template.name,
            "estimated_price": str(rec.estimated_price),
            "work": "appointment" if rec.appointment_id else "job_line",
            "job_card": rec.job_line.job_card_id if rec.job_line_id else None,
            "appointment": rec.appointment_id,
            "recovered": was_declined or rec.recovered_from_id is not None,
            "recovered_from": rec.recovered_from_id,
        },
    )
    return rec


@transaction.atomic
def recommendation_decline(
    *,
    recommendation: VisitRecommendation,
    actor: Actor,
    reason: str = "",
    measured_value: str | None = None,
) -> VisitRecommendation:
    """The customer declines; what was measured is kept so a follow-up can quote it."""
    rec = _lock_for_decision(recommendation, RecommendationStatus.DECLINED)
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise DomainError("Keep the reason under 200 characters.", field="reason")
    if measured_value is not None:
        measured_value = measured_value.strip()
        if len(measured_value) > 120:
            raise DomainError("Keep the measured value under 120 characters.", field="measured_value")
        rec.measured_value = measured_value or rec.measured_value
    now = timezone.now()
    rec.status = RecommendationStatus.DECLINED
    rec.decided_by, rec.decided_by_label, rec.decided_at = actor.user, actor.label, now
    rec.declined_at, rec.decline_reason = now, reason
    rec.save(update_fields=[
        "status", "decided_by", "decided_by_label", "decided_at", "declined_at",
        "decline_reason", "measured_value",
    ])
    record(
        "recommendation.declined", actor=actor, customer=rec.visit.customer, subject=rec,
        payload={
            "visit": rec.visit_id, "service": rec.service_template.code,
            "name": rec.service_template.name, "measured_value": rec.measured_value,
            "estimated_price": str(rec.estimated_price), "reason": reason,
        },
    )
    return rec
