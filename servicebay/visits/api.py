"""Visits endpoints: the timeline, visit detail, and the check-in → check-out → rating flow.

Thin: check the permission, parse, call a service or selector. Reads need ``shop.view``; the
flow needs ``visits.write``; adding a recommendation needs ``recommendations.write``
(technicians hold it).
"""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Query, Router, Status

from servicebay.core.api_auth import actor_of, require
from servicebay.core.errors import DomainError
from servicebay.core.schemas import ERRORS
from servicebay.shop.models import (
    Appointment,
    Customer,
    JobCard,
    Location,
    ServiceTemplate,
    Vehicle,
)

from . import selectors, services
from .choices import SATISFACTION_LINK_MAX_AGE
from .models import CustomerVisit, VisitRecommendation
from .schemas import (
    AcceptIn,
    CheckInIn,
    CheckOutIn,
    DeclineIn,
    RecommendationIn,
    RecommendationOut,
    SatisfactionIn,
    SatisfactionLinkOut,
    TimelinePage,
    TimelineQuery,
    VisitDetailOut,
    VisitKpisOut,
    WhatsNextOut,
)

router = Router(tags=["visits"])


def _get(model, pk: int | None, field: str):
    """Resolve an id from a request body; unknown ids are a 422 on that field."""
    if pk is None:
        return None
    try:
        return model.objects.get(pk=pk)
    except model.DoesNotExist:
        raise DomainError(f"No {model._meta.verbose_name} with id {pk}.", field=field) from None


class InvalidFilter(DomainError):
    """A URL parameter of a list that does not fit the resource (reported under "query")."""

    location = "query"


def _customer(customer_id: int) -> Customer:
    return get_object_or_404(Customer.objects.select_related("home_location"), pk=customer_id)


def _filters(customer: Customer, query: TimelineQuery) -> selectors.TimelineFilters:
    if query.vehicle_id and not Vehicle.objects.filter(pk=query.vehicle_id, customer=customer).exists():
        raise InvalidFilter("This customer has no vehicle with that id.", field="vehicle_id")
    return selectors.TimelineFilters(
        vehicle_id=query.vehicle_id, visit_type=query.visit_type, date_from=query.date_from,
        date_to=query.date_to, time_zone=customer.effective_time_zone,
    )


@router.get("/customers/{customer_id}/timeline", response={200: TimelinePage, **ERRORS})
def customer_timeline(
    request: HttpRequest,
    customer_id: int,
    query: Query[TimelineQuery],
    cursor: str | None = None,
    limit: int = Query(20, ge=1, le=100, description="Page size."),
):
    """A customer's visits, newest first; pass ``next_cursor`` back as ``cursor``."""
    require(request, "shop.view")
    customer = _customer(customer_id)
    page = selectors.visit_timeline_page(
        customer_id=customer.pk, filters=_filters(customer, query), cursor=cursor, limit=limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/customers/{customer_id}/whats-next", response={200: WhatsNextOut, **ERRORS})
def customer_whats_next(request: HttpRequest, customer_id: int, vehicle_id: int | None = None):
    """Open recommendations, service intervals due by date or predicted mileage."""
    require(request, "shop.view")
    customer = _customer(customer_id)
    result = selectors.whats_next(
        customer_id=customer.pk, vehicle_id=vehicle_id, tz_name=customer.effective_time_zone
    )
    return {
        "open_recommendations": [
            {"recommendation": item.recommendation, "vehicle_id": item.recommendation.visit.vehicle_id,
             "age_days": item.age_days}
            for item in result.open_recommendations
        ],
        "intervals": [
            {
                "vehicle_id": item.vehicle.pk, "service_template_id": item.template.pk,
                "service_name": item.template.name, "status": item.status, "basis": item.basis,
                "due_on": item.due_on, "due_by_date": item.due_by_date,
                "due_odometer": item.due_odometer, "distance_unit": item.distance_unit,
                "predicted_at": item.predicted.at if item.predicted else None,
                "plus_minus_days": item.predicted.plus_minus_days if item.predicted else None,
                "last_service_at": item.last_service_at, "last_odometer": item.last_odometer,
            }
            for item in result.intervals
        ],
        "mileage": [
            {
                "vehicle_id": vid, "per_day": m.fit.per_day if m.fit else None,
                "estimated_odometer": m.estimated_odometer,
                "readings": [{"at": r.at, "odometer": r.odometer, "source": r.source} for r in m.readings],
            }
            for vid, m in result.mileage.items()
        ],
        "recovered_count": result.recovered_count,
        "recovered_value": result.recovered_value,
    }


@router.get("/customers/{customer_id}/visit-kpis", response={200: VisitKpisOut, **ERRORS})
def customer_visit_kpis(request: HttpRequest, customer_id: int):
    """Visit totals for Customer 360: visits, spend, satisfaction, open recommendations."""
    require(request, "shop.view")
    kpis = selectors.visit_kpis(customer_id=_customer(customer_id).pk)
    return {
        **{name: getattr(kpis, name) for name in VisitKpisOut.model_fields if hasattr(kpis, name)},
        "last_visit_id": kpis.last_visit.pk if kpis.last_visit else None,
        "last_visit_at": kpis.last_visit.check_in_at if kpis.last_visit else None,
    }


@router.post("/visits", response={201: VisitDetailOut, **ERRORS})
def visit_check_in(request: HttpRequest, payload: CheckInIn):
    """Check a vehicle in: give ``appointment_id`` (scheduled) or customer and vehicle (walk-in)."""
    require(request, "visits.write")
    visit = services.visit_check_in(
        actor=actor_of(request),
        appointment=_get(Appointment, payload.appointment_id, "appointment_id"),
        customer=_get(Customer, payload.customer_id, "customer_id"),
        vehicle=_get(Vehicle, payload.vehicle_id, "vehicle_id"),
        location=_get(Location, payload.location_id, "location_id"),
        job_card=_get(JobCard, payload.job_card_id, "job_card_id"),
        odometer_in=payload.odometer_in,
    )
    return Status(201, selectors.visit_detail(visit_id=visit.pk))


@router.get("/visits/{visit_id}", response={200: VisitDetailOut, **ERRORS})
def visit_get(request: HttpRequest, visit_id: int):
    """One visit with its job card, lines (parts with SKU) and recommendations."""
    require(request, "shop.view")
    return selectors.visit_detail(visit_id=visit_id)


@router.post("/visits/{visit_id}/check-out", response={200: VisitDetailOut, **ERRORS})
def visit_check_out(request: HttpRequest, visit_id: int, payload: CheckOutIn):
    """Check out (once, after the job card is completed); the spend is the card's total."""
    require(request, "visits.write")
    visit = get_object_or_404(CustomerVisit, pk=visit_id)
    services.visit_check_out(visit=visit, actor=actor_of(request), check_out_at=payload.check_out_at)
    return selectors.visit_detail(visit_id=visit_id)


@router.post("/visits/{visit_id}/satisfaction", response={200: VisitDetailOut, **ERRORS})
def visit_rate(request: HttpRequest, visit_id: int, payload: SatisfactionIn):
    """Record the customer's rating (1 to 5) as told to an advisor; once, after check-out."""
    require(request, "visits.write")
    visit = get_object_or_404(CustomerVisit, pk=visit_id)
    services.visit_rate(visit=visit, score=payload.score, comment=payload.comment,
                        actor=actor_of(request))
    return selectors.visit_detail(visit_id=visit_id)


@router.post("/visits/{visit_id}/satisfaction-link", response={200: SatisfactionLinkOut, **ERRORS})
def visit_satisfaction_link(request: HttpRequest, visit_id: int):
    """A signed survey link the customer opens without logging in (valid 14 days, used once)."""
    require(request, "visits.write")
    visit = get_object_or_404(CustomerVisit, pk=visit_id)
    return {
        "url": request.build_absolute_uri(services.satisfaction_link_path(visit=visit)),
        "expires_at": timezone.now() + SATISFACTION_LINK_MAX_AGE,
    }


@router.post("/visits/{visit_id}/recommendations", response={201: RecommendationOut, **ERRORS})
def recommendation_add(request: HttpRequest, visit_id: int, payload: RecommendationIn):
    """Recommend a service on an open visit (technicians may)."""
    require(request, "recommendations.write")
    visit = get_object_or_404(CustomerVisit, pk=visit_id)
    rec = services.recommendation_add(
        visit=visit, actor=actor_of(request),
        service_template=_get(ServiceTemplate, payload.service_template_id, "service_template_id"),
        notes=payload.notes, measured_value=payload.measured_value,
        estimated_price=payload.estimated_price,
    )
    return Status(201, selectors.recommendation_get(recommendation_id=rec.pk))


@router.post("/recommendations/{recommendation_id}/accept", response={200: RecommendationOut, **ERRORS})
def recommendation_accept(request: HttpRequest, recommendation_id: int, payload: AcceptIn):
    """Accept: a line on the vehicle's open job card, or an appointment at ``start_at``."""
    require(request, "visits.write")
    rec = get_object_or_404(VisitRecommendation, pk=recommendation_id)
    services.recommendation_accept(
        recommendation=rec, actor=actor_of(request), start_at=payload.start_at,
        location=_get(Location, payload.location_id, "location_id"),
    )
    return selectors.recommendation_get(recommendation_id=rec.pk)


@router.post("/recommendations/{recommendation_id}/decline", response={200: RecommendationOut, **ERRORS})
def recommendation_decline(request: HttpRequest, recommendation_id: int, payload: DeclineIn):
    """Decline; the measured value is kept for the follow-up."""
    require(request, "visits.write")
    rec = get_object_or_404(VisitRecommendation, pk=recommendation_id)
    services.recommendation_decline(
        recommendation=rec, actor=actor_of(request), reason=payload.reason,
        measured_value=payload.measured_value,
    )
    return selectors.recommendation_get(recommendation_id=rec.pk)
