"""Creating, changing and switching journeys on and off."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from servicebay.activity.services import record
from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError

from ..choices import PENDING_STATUSES, EnrollmentStatus, MessageStatus
from ..definitions import (
    AppointmentTrigger,
    EventTrigger,
    JourneyDefinition,
    SendStep,
    parse_definition,
)
from ..models import Journey, JourneyEnrollment, Message, MessageTemplate


def _check_templates(definition: JourneyDefinition) -> None:
    known = {t.code: t for t in MessageTemplate.objects.filter(code__in=definition.templates)}
    for index, step in enumerate(definition.steps):
        if not isinstance(step, SendStep):
            continue
        template = known.get(step.template)
        if template is None:
            raise DomainError(f"steps.{index}.template: no template with code '{step.template}'.",
                              field="definition")
        offered = [c for c in (step.channels or template.channels) if template.has_variant(c)]
        if not offered:
            raise DomainError(f"steps.{index}: the template has no version for the chosen channels.",
                              field="definition")
        if step.expire_at == "appointment_start" and not (
            isinstance(definition.trigger, AppointmentTrigger)
            or (isinstance(definition.trigger, EventTrigger) and definition.trigger.event == "appointment.booked")
        ):
            raise DomainError(f"steps.{index}.expire_at: only appointment journeys know the start.",
                              field="definition")


def _validate_journey(fields: dict[str, Any]) -> None:
    start, end = fields.get("quiet_hours_start"), fields.get("quiet_hours_end")
    if (start is None) != (end is None):
        raise DomainError("Give both ends of the quiet hours, or neither.", field="quiet_hours_end")
    holdout = fields.get("holdout_percent", 0)
    if not isinstance(holdout, int) or not 0 <= holdout <= 50:
        raise DomainError("The hold-out group is 0 to 50 % of customers.", field="holdout_percent")


JOURNEY_FIELDS = ("code", "name", "description", "definition", "quiet_hours_start", "quiet_hours_end",
                  "holdout_percent", "attribution_days")


@transaction.atomic
def journey_create(*, actor: Actor, **fields: Any) -> Journey:
    """Create a journey (switched off); its definition and templates are checked first."""
    unknown = set(fields) - set(JOURNEY_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    definition = parse_definition(fields.get("definition"))
    _check_templates(definition)
    _validate_journey(fields)
    if Journey.objects.filter(code=fields.get("code")).exists():
        raise DomainError("Another journey has this code.", field="code")
    fields["definition"] = definition.model_dump(mode="json", exclude_none=True)
    journey = Journey(updated_by=actor.label, **fields)
    journey.full_clean()
    journey.save()
    record("journey.created", actor=actor, subject=journey, payload={"code": journey.code})
    return journey


@transaction.atomic
def journey_update(*, journey: Journey, actor: Actor, **fields: Any) -> Journey:
    """Change a journey; a new definition bumps the version (enrollments keep theirs)."""
    unknown = set(fields) - set(JOURNEY_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if "definition" in fields:
        definition = parse_definition(fields["definition"])
        _check_templates(definition)
        fields["definition"] = definition.model_dump(mode="json", exclude_none=True)
    merged = {name: getattr(journey, name) for name in JOURNEY_FIELDS} | fields
    _validate_journey(merged)
    if "code" in fields and Journey.objects.filter(code=fields["code"]).exclude(pk=journey.pk).exists():
        raise DomainError("Another journey has this code.", field="code")
    changed = [name for name, value in fields.items() if getattr(journey, name) != value]
    if not changed:
        return journey
    for name in changed:
        setattr(journey, name, fields[name])
    if "definition" in changed:
        journey.version += 1
    journey.updated_by = actor.label
    journey.full_clean()
    journey.save()
    record("journey.updated", actor=actor, subject=journey,
           payload={"code": journey.code, "fields": sorted(changed), "version": journey.version})
    return journey


@transaction.atomic
def journey_set_active(*, journey: Journey, active: bool, actor: Actor) -> Journey:
    """Switch a journey on (only events from now on trigger it) or off (pending sends cancelled)."""
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.is_active == active:
        return journey
    definition = parse_definition(journey.definition)
    if active:
        _check_templates(definition)
    journey.is_active = active
    journey.activated_at = timezone.now() if active else journey.activated_at
    journey.save(update_fields=["is_active", "activated_at", "updated_at"])
    if not active:
        JourneyEnrollment.objects.filter(journey=journey, status=EnrollmentStatus.ACTIVE).update(
            status=EnrollmentStatus.EXITED, exit_reason="The journey was switched off.", next_step_at=None)
        Message.objects.filter(journey=journey, status__in=PENDING_STATUSES).update(
            status=MessageStatus.CANCELLED, skip_reason="The journey was switched off.")
    record("journey.activated" if active else "journey.deactivated", actor=actor, subject=journey,
           payload={"code": journey.code})
    return journey
