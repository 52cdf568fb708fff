"""Customer 360 endpoints: the console's figures and next best actions, and the activity feed."""

from __future__ import annotations

import re
from dataclasses import asdict

from django.http import HttpRequest
from ninja import Query, Router

from servicebay.core.api_auth import require
from servicebay.core.errors import DomainError
from servicebay.core.schemas import ERRORS

from . import selectors
from .feed import FAMILY_BY_KEY
from .next_best import CONTACT_HOLD
from .schemas import ActivityPageOut, Customer360Out

router = Router(tags=["customer 360"])

Kinds = Query(
    [], max_length=20,
    description="Families (note, visit, jobcard, appointment, recommendation, message, loyalty, "
    "profile) or exact event kinds (note.added). Repeat to combine.",
)
Limit = Query(20, ge=1, le=100, description="Page size.")
_KIND = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


class InvalidKind(DomainError):
    location = "query"


def _kinds(values: list[str]) -> list[str]:
    for value in values:
        if value not in FAMILY_BY_KEY and not _KIND.match(value):
            families = ", ".join(FAMILY_BY_KEY)
            raise InvalidKind(
                f"Unknown kind {value!r}: use a family ({families}) or an event kind such as "
                "'note.added'.",
                field="kind",
            )
    return values


def _appointment(appointment) -> dict | None:
    if appointment is None:
        return None
    return {
        "id": appointment.pk, "start_at": appointment.start_at,
        "duration_minutes": appointment.duration_minutes, "status": appointment.status,
        "location_id": appointment.location_id, "location_name": appointment.location.name,
        "vehicle_id": appointment.vehicle_id,
        "service_template_ids": [s.pk for s in appointment.services.all()],
    }


def _visits(view: selectors.Customer360) -> dict | None:
    kpis = view.visits
    if kpis is None:
        return None
    return {
        "average_satisfaction": kpis.average_satisfaction, "rated_visits": kpis.rated_visits,
        "open_recommendations": kpis.open_recommendations,
        "open_recommendations_value": kpis.open_recommendations_value, "currency": kpis.currency,
    }


def _loyalty(view: selectors.Customer360) -> dict | None:
    summary = view.loyalty
    if summary is None:
        return None
    return {
        "program_id": summary.program_id, "program_name": summary.program_name,
        "is_member": summary.is_member, "points_balance": summary.points_balance,
        "points_value": summary.points_value, "currency": summary.currency,
        "tier": summary.tier, "tier_name": summary.tier_name,
        "next_tier_name": summary.next_tier_name,
        "points_to_next_tier": summary.points_to_next_tier,
        "spend_to_next_tier": view.spend_to_next_tier,
    }


def _messaging(view: selectors.Customer360) -> dict | None:
    if view.consent is None:
        return None
    last = view.last_contacted_at
    hold = last + CONTACT_HOLD if last is not None and last + CONTACT_HOLD > view.now else None
    return {
        "consent": [
            {"channel": b.channel, "label": b.channel_label, "transactional": b.transactional.allowed,
             "marketing": b.marketing.allowed, "summary": b.summary}
            for b in view.consent
        ],
        "last_contacted_at": last,
        "contact_hold_until": hold,
    }


def customer_360_payload(view: selectors.Customer360) -> dict:
    customer = view.customer
    spend = view.spend
    return {
        "customer": {
            "id": customer.pk, "first_name": customer.first_name, "last_name": customer.last_name,
            "phone": customer.phone, "email": customer.email,
            "preferred_channel": customer.preferred_channel, "time_zone": view.time_zone,
            "home_location": customer.home_location, "vehicles": view.vehicles,
        },
        "kpis": {
            "currency": spend.currency, "total_visits": spend.total_visits,
            "lifetime_spend": spend.lifetime_spend,
            "spend_last_12_months": spend.spend_last_12_months,
            "last_visit_at": spend.last_visit_at,
            "next_appointment": _appointment(view.next_appointment),
            "other_currencies": [asdict(c) for c in spend.other_currencies],
        },
        "spend_by_month": [asdict(point) for point in view.series],
        "visits": _visits(view),
        "loyalty": _loyalty(view),
        "messaging": _messaging(view),
        "next_best_actions": [
            {"key": nba.key, "title": nba.title, "detail": nba.detail, "tone": nba.tone,
             "action": asdict(nba.action) if nba.action else None}
            for nba in view.next_best_actions
        ],
    }


@router.get("/customers/{customer_id}/360", response={200: Customer360Out, **ERRORS})
def customer_360(request: HttpRequest, customer_id: int):
    """KPIs, spend by month, the feature apps' figures and the next best actions of a customer."""
    require(request, "shop.view")
    return customer_360_payload(selectors.customer_360(customer_id=customer_id))


@router.get("/customers/{customer_id}/activity", response={200: ActivityPageOut, **ERRORS})
def customer_activity(
    request: HttpRequest,
    customer_id: int,
    kind: list[str] = Kinds,
    cursor: str | None = None,
    limit: int = Limit,
):
    """The customer's event log, newest first, keyset-paginated."""
    require(request, "shop.view")
    customer = selectors.customer_for_console(customer_id=customer_id)
    page = selectors.customer_activity(
        customer=customer, kinds=_kinds(kind), cursor=cursor, limit=limit
    )
    return {
        "items": [
            {
                "id": item.event.pk, "kind": item.event.kind,
                "family": item.family.key if item.family else None,
                "title": item.line.title, "detail": item.line.detail, "tone": item.line.tone,
                "occurred_at": item.event.occurred_at, "actor": item.actor,
                "subject_type": item.event.subject_type, "subject_id": item.event.subject_id,
                "payload": item.event.payload,
            }
            for item in page.items
        ],
        "next_cursor": page.next_cursor,
    }
