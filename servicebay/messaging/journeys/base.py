"""Shared by the engine's parts: the actor, time-zone helpers, what a planned enrollment is, and
enrolling itself."""

from __future__ import annotations

import hashlib
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db import IntegrityError, transaction

from servicebay.activity.models import Event
from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError
from servicebay.shop.models import Customer

from ..choices import EnrollmentStatus
from ..definitions import (
    JourneyDefinition,
    parse_definition,
)
from ..models import Journey, JourneyEnrollment
from ..quiet_hours import local_to_utc

ENGINE = Actor.system("journeys")


SUBJECT_REFS = {
    "shop.appointment": "appointment_id",
    "shop.jobcard": "job_card_id",
    "visits.customervisit": "visit_id",
    "visits.visitrecommendation": "recommendation_id",
    "shop.vehicle": "vehicle_id",
}


def zone(tz_name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(tz_name)


def local_at(day: date, at: time, tz_name: str) -> datetime:
    """The UTC instant of a wall-clock time in ``tz_name`` (DST-safe, see ``quiet_hours``)."""
    return local_to_utc(day, at, tz_name)


@dataclass
class Planned:
    """One enrollment a date trigger asks for (``dates_plan`` makes it; dry runs show it)."""

    journey: Journey
    customer: Customer
    trigger_key: str
    start_at: datetime
    context: dict[str, Any]


def active_journeys() -> list[tuple[Journey, JourneyDefinition]]:
    out = []
    for journey in Journey.objects.filter(is_active=True):
        try:
            out.append((journey, parse_definition(journey.definition)))
        except DomainError:
            continue  # an invalid stored definition cannot run; saving validates, so this is rare
    return out


def event_context(event: Event) -> dict[str, Any]:
    context: dict[str, Any] = {"event_id": event.pk, "at": event.occurred_at.isoformat()}
    ref = SUBJECT_REFS.get(event.subject_type)
    if ref and event.subject_id:
        context[ref] = event.subject_id
    if event.kind == "appointment.booked" and event.payload.get("start_at"):
        context["start_at"] = event.payload["start_at"]
    return context


def in_holdout(journey: Journey, customer_id: int) -> bool:
    """Stable per (journey, customer): the same customer is always in, or always out."""
    if not journey.holdout_percent:
        return False
    digest = hashlib.sha256(f"{journey.pk}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < journey.holdout_percent


def journey_enroll(
    *, journey: Journey, customer_id: int, trigger_key: str, start_at: datetime,
    context: dict[str, Any] | None = None,
) -> JourneyEnrollment | None:
    """Enroll a customer once per trigger; None if already enrolled. Hold-outs are recorded but
    receive nothing (they are the control group for attribution)."""
    held_out = in_holdout(journey, customer_id)
    try:
        with transaction.atomic():
            return JourneyEnrollment.objects.create(
                journey=journey, customer_id=customer_id, trigger_key=trigger_key[:120],
                context=context or {}, journey_version=journey.version,
                status=EnrollmentStatus.HELD_OUT if held_out else EnrollmentStatus.ACTIVE,
                next_step_at=None if held_out else start_at,
            )
    except IntegrityError:
        return None
