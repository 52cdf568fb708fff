"""Walking an enrollment's steps: waits, conditions (holds), sends, exits."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from servicebay.core.errors import DomainError
from servicebay.shop.choices import APPOINTMENT_ACTIVE, JOB_CARD_EDITABLE
from servicebay.shop.models import Appointment, JobCard, Vehicle

from ..choices import EnrollmentStatus
from ..definitions import (
    ConditionStep,
    ExitStep,
    JourneyDefinition,
    SendStep,
    WaitStep,
    parse_definition,
)
from ..models import JourneyEnrollment, MessageTemplate
from ..services import message_schedule
from .base import ENGINE, SUBJECT_REFS, local_at, zone


def _visit_model():
    try:
        return apps.get_model("visits", "CustomerVisit")
    except LookupError:
        return None


def condition_holds(step: ConditionStep, enrollment: JourneyEnrollment, now: datetime) -> tuple[bool, str]:
    customer_id = enrollment.customer_id
    context = enrollment.context
    if step.check == "not_booked_since_trigger":
        since = datetime.fromisoformat(context["at"]) if context.get("at") else enrollment.created_at
        booked = Appointment.objects.filter(customer_id=customer_id, created_at__gt=since).exists()
        return not booked, "An appointment was booked since."
    if step.check == "no_upcoming_appointment":
        ahead = Appointment.objects.filter(customer_id=customer_id, status__in=APPOINTMENT_ACTIVE,
                                           start_at__gte=now).exists()
        return not ahead, "An appointment is already booked."
    if step.check == "no_open_job_card":
        open_card = JobCard.objects.filter(customer_id=customer_id, status__in=JOB_CARD_EDITABLE).exists()
        return not open_card, "A job card is open."
    if step.check == "no_visit_within_days":
        since = now - timedelta(days=step.days or 0)
        visits = _visit_model()
        if visits is not None:
            recent = visits.objects.filter(customer_id=customer_id, check_in_at__gte=since).exists()
        else:
            recent = JobCard.objects.filter(customer_id=customer_id, opened_at__gte=since).exists()
        return not recent, f"Visited within the last {step.days} days."
    if step.check == "appointment_still_active":
        appointment = Appointment.objects.filter(pk=context.get("appointment_id")).first()
        ok = (appointment is not None and appointment.status in APPOINTMENT_ACTIVE
              and (not context.get("start_at") or appointment.start_at == datetime.fromisoformat(context["start_at"])))
        return ok, "The appointment was cancelled or moved."
    if step.check == "recommendation_still_declined":
        try:
            rec_model = apps.get_model("visits", "VisitRecommendation")
        except LookupError:
            return True, ""
        ok = rec_model.objects.filter(pk=context.get("recommendation_id"), status="declined").exists()
        return ok, "The recommendation is no longer declined."
    if step.check == "vehicle_still_owned":
        vehicle_id = context.get("vehicle_id")
        owned = vehicle_id is None or Vehicle.objects.filter(pk=vehicle_id, customer_id=customer_id).exists()
        return owned, "The vehicle was sold or moved to another customer."
    if step.check == "satisfaction_at_least":
        visits = _visit_model()
        if visits is None:
            return True, ""
        last = (visits.objects.filter(customer_id=customer_id, satisfaction_score__isnull=False)
                .order_by("-check_in_at").values_list("satisfaction_score", flat=True).first())
        return last is None or last >= (step.score or 0), "The last visit was rated low."
    return True, ""


def wait_until(step: WaitStep, base: datetime, tz_name: str) -> datetime:
    target = base + timedelta(days=step.days, hours=step.hours)
    if step.at_local_time is None:
        return target
    local = timezone.localtime(target, zone(tz_name))
    day = local.date()
    if local.time() > step.at_local_time:
        day += timedelta(days=1)
    return local_at(day, step.at_local_time, tz_name)


def send_expiry(step: SendStep, due: datetime, enrollment: JourneyEnrollment, tz_name: str) -> datetime | None:
    context = enrollment.context
    if step.expire_at == "end_of_local_day":
        if context.get("expires_at"):
            return datetime.fromisoformat(context["expires_at"])
        day = timezone.localtime(due, zone(tz_name)).date() + timedelta(days=1)
        return local_at(day, time(0), tz_name)
    if step.expire_at == "appointment_start" and context.get("start_at"):
        return datetime.fromisoformat(context["start_at"])
    if step.expire_after_hours:
        return due + timedelta(hours=step.expire_after_hours)
    if context.get("expires_at"):
        return datetime.fromisoformat(context["expires_at"])
    return None


def context_refs(context: dict[str, Any]) -> dict[str, Any]:
    return {key: context[key] for key in (*SUBJECT_REFS.values(), "location_id", "service_due") if key in context}


def _finish(enrollment: JourneyEnrollment, status: str, reason: str = "") -> None:
    enrollment.status, enrollment.exit_reason, enrollment.next_step_at = status, reason[:200], None
    enrollment.save(update_fields=["status", "exit_reason", "next_step_at", "step_index", "updated_at"])


def _advance_one(enrollment: JourneyEnrollment, definition: JourneyDefinition, now: datetime,
                 templates: dict[str, MessageTemplate]) -> None:
    journey, customer = enrollment.journey, enrollment.customer
    tz_name = customer.effective_time_zone
    scheduled = enrollment.next_step_at or now
    steps = definition.steps
    while enrollment.step_index < len(steps):
        index = enrollment.step_index
        step = steps[index]
        if isinstance(step, WaitStep):
            target = wait_until(step, scheduled, tz_name)
            enrollment.step_index = index + 1
            if target > now:
                enrollment.next_step_at = target
                enrollment.save(update_fields=["step_index", "next_step_at", "updated_at"])
                return
            scheduled = target
            continue
        if isinstance(step, ConditionStep):
            ok, reason = condition_holds(step, enrollment, now)
            if not ok:
                _finish(enrollment, EnrollmentStatus.EXITED, reason)
                return
        elif isinstance(step, SendStep):
            template = templates.get(step.template)
            due = max(scheduled, now)
            if template is None or not template.is_active:
                _finish(enrollment, EnrollmentStatus.EXITED, f"Template '{step.template}' is missing or off.")
                return
            message_schedule(
                actor=ENGINE, customer=customer, purpose=step.purpose, template=template,
                channels=step.channels, due_at=due, expires_at=send_expiry(step, due, enrollment, tz_name),
                journey=journey, enrollment=enrollment, step_index=index,
                trigger_key=enrollment.trigger_key, refs=context_refs(enrollment.context),
            )
        elif isinstance(step, ExitStep):
            enrollment.step_index = index + 1
            _finish(enrollment, EnrollmentStatus.EXITED, step.reason or "Exit step.")
            return
        enrollment.step_index = index + 1
    _finish(enrollment, EnrollmentStatus.COMPLETED)


def enrollments_advance(*, now: datetime | None = None, limit: int = 500) -> int:
    """Run the due steps of up to ``limit`` enrollments; returns how many were advanced."""
    now = now or timezone.now()
    with transaction.atomic():
        qs = (
            JourneyEnrollment.objects.filter(status=EnrollmentStatus.ACTIVE, next_step_at__lte=now)
            .select_related("journey", "customer__home_location").order_by("next_step_at", "id")
        )
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        due = list(qs[:limit])
        definitions: dict[int, JourneyDefinition | None] = {}
        codes: set[str] = set()
        for enrollment in due:
            if enrollment.journey_id not in definitions:
                try:
                    definitions[enrollment.journey_id] = parse_definition(enrollment.journey.definition)
                    codes.update(definitions[enrollment.journey_id].templates)
                except DomainError:
                    definitions[enrollment.journey_id] = None
        templates = {t.code: t for t in MessageTemplate.objects.filter(code__in=codes)}
        for enrollment in due:
            definition = definitions[enrollment.journey_id]
            if not enrollment.journey.is_active or definition is None:
                _finish(enrollment, EnrollmentStatus.EXITED, "The journey was switched off.")
                continue
            _advance_one(enrollment, definition, now, templates)
    return len(due)
