"""Every read the timeline, the visit detail, "What's next" and Customer 360 need.

Query counts are flat: a timeline page is one query whatever the history length (counts of
recommendations are correlated subqueries on the page's rows), and "What's next" is a fixed
handful of grouped queries.
"""

from __future__ import annotations

import calendar
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from django.db.models import (
    Avg,
    CharField,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.shortcuts import get_object_or_404
from django.utils import timezone

from servicebay.core.money import quantize_money
from servicebay.core.pagination import Page, keyset_page
from servicebay.shop.choices import DistanceUnit, JobCardStatus
from servicebay.shop.models import JobCard, JobLine, ServiceTemplate, Vehicle

from .choices import (
    DUE_SOON_DAYS,
    DUE_SOON_DISTANCE,
    RECOMMENDATION_OPEN,
    IntervalStatus,
    RecommendationStatus,
)
from .mileage import DatePrediction, MileageFit, Reading, fit_mileage
from .models import CustomerVisit, VisitRecommendation

TIMELINE_ORDER = ("-check_in_at", "-id")
# What a timeline entry shows; the drill-down (visit_detail) loads the rest.
TIMELINE_FIELDS = (
    "customer_id", "vehicle_id", "job_card_id", "appointment_id", "visit_type", "location_id",
    "advisor_id", "odometer_in", "check_in_at", "check_out_at", "total_spend",
    "satisfaction_score", "satisfaction_comment", "satisfaction_source",
    "location__name", "location__time_zone", "location__currency",
    "vehicle__year", "vehicle__make", "vehicle__model", "vehicle__plate", "vehicle__odometer_unit",
)
# "What's next" lists this many open recommendations, newest first, and counts the rest.
OPEN_RECOMMENDATIONS_SHOWN = 10
# The mileage line is fitted through (and the page lists) each vehicle's newest readings only.
MILEAGE_READINGS = 100
KM_PER_MILE = 1.609344
_DONE = (JobCardStatus.COMPLETED, JobCardStatus.CLOSED)


# --- timeline -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineFilters:
    """The filters of a customer's timeline; dates are calendar days in ``time_zone``."""

    vehicle_id: int | None = None
    visit_type: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    time_zone: str = "UTC"

    @property
    def is_active(self) -> bool:
        return any((self.vehicle_id, self.visit_type, self.date_from, self.date_to))


@cache
def _recommendation_counts() -> dict[str, Subquery]:
    """``<status>_count`` annotations: one correlated ``SELECT COUNT(*)`` per status.

    COUNT as a plain function (not an aggregate) keeps GROUP BY out of the subquery, so it always
    yields one row; the expressions are built once and reused (annotate copies them).
    """
    return {
        f"{status}_count": Subquery(
            VisitRecommendation.objects.filter(visit=OuterRef("pk"), status=status)
            .order_by()
            .annotate(n=Func(F("id"), function="COUNT"))
            .values("n"),
            output_field=IntegerField(),
        )
        for status in RecommendationStatus.values
    }


def _local_midnight(day: date, tz_name: str) -> datetime | None:
    """Start of ``day`` in the zone, or None at the edges of the calendar (no bound there)."""
    try:
        start = datetime.combine(day, time.min, tzinfo=zoneinfo.ZoneInfo(tz_name))
        start.astimezone(UTC)
    except OverflowError:
        return None
    return start


def visit_timeline(*, customer_id: int, filters: TimelineFilters | None = None) -> QuerySet[CustomerVisit]:
    """A customer's visits with location, vehicle, job card and recommendation counts by status."""
    filters = filters or TimelineFilters()
    qs = (
        CustomerVisit.objects.filter(customer_id=customer_id)
        .select_related("location", "vehicle")
        .only(*TIMELINE_FIELDS)
        .annotate(**_recommendation_counts())
    )
    if filters.vehicle_id:
        qs = qs.filter(vehicle_id=filters.vehicle_id)
    if filters.visit_type:
        qs = qs.filter(visit_type=filters.visit_type)
    start = _local_midnight(filters.date_from, filters.time_zone) if filters.date_from else None
    if start is not None:
        qs = qs.filter(check_in_at__gte=start)
    if filters.date_to and filters.date_to < date.max:
        end = _local_midnight(filters.date_to + timedelta(days=1), filters.time_zone)
        if end is not None:
            qs = qs.filter(check_in_at__lt=end)
    return qs


def visit_timeline_page(
    *, customer_id: int, filters: TimelineFilters | None = None, cursor: str | None = None,
    limit: int = 20,
) -> Page:
    """One page of the timeline, newest first, keyset-paginated (one query)."""
    return keyset_page(
        visit_timeline(customer_id=customer_id, filters=filters),
        order=TIMELINE_ORDER, cursor=cursor, limit=limit, scope=f"timeline:{customer_id}",
    )


def visit_detail(*, visit_id: int) -> CustomerVisit:
    """A visit with its job card, lines (parts, templates) and recommendations; 404 if unknown."""
    recommendations = VisitRecommendation.objects.select_related(
        "service_template", "decided_by", "created_by", "recovered_from__visit",
        "job_line__job_card", "appointment",
    ).annotate(
        is_superseded=Exists(VisitRecommendation.objects.filter(recovered_from=OuterRef("pk")))
    )
    return get_object_or_404(
        CustomerVisit.objects.select_related(
            "customer", "vehicle", "location", "advisor", "appointment", "job_card",
            "job_card__advisor",
        ).prefetch_related(
            Prefetch(
                "job_card__lines",
                queryset=JobLine.objects.select_related("part", "service_template", "technician"),
            ),
            Prefetch("recommendations", queryset=recommendations),
        ),
        pk=visit_id,
    )


def recommendation_get(*, recommendation_id: int) -> VisitRecommendation:
    return get_object_or_404(
        VisitRecommendation.objects.select_related("visit", "service_template"),
        pk=recommendation_id,
    )


# --- what's next ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenRecommendation:
    recommendation: VisitRecommendation
    age_days: int


@dataclass(frozen=True)
class VehicleMileage:
    """A vehicle's readings and the line fitted through them."""

    vehicle: Vehicle
    readings: list[Reading]
    fit: MileageFit | None
    estimated_odometer: int


@dataclass(frozen=True)
class IntervalDue:
    """One service interval of one vehicle, measured from its last service of that template."""

    vehicle: Vehicle
    template: ServiceTemplate
    last_service_at: datetime
    last_odometer: int | None
    due_by_date: date | None
    due_odometer: int | None
    predicted: DatePrediction | None
    due_on: date | None
    basis: str  # "date" or "mileage": which limit comes first
    status: str
    distance_unit: str
    mileage: VehicleMileage | None = None  # the readings and fit behind a mileage prediction

    @property
    def is_due(self) -> bool:
        return self.status in (IntervalStatus.OVERDUE, IntervalStatus.DUE_SOON)


@dataclass
class WhatsNext:
    open_recommendations: list[OpenRecommendation] = field(default_factory=list)
    open_total: int = 0  # all open recommendations; the list shows the newest few
    open_value: Decimal = Decimal("0")  # their estimated value
    intervals: list[IntervalDue] = field(default_factory=list)
    mileage: dict[int, VehicleMileage] = field(default_factory=dict)
    recovered_count: int = 0
    recovered_value: Decimal = Decimal("0")

    @property
    def is_empty(self) -> bool:
        return not (self.open_recommendations or self.intervals)


def recommendation_open_list(*, customer_id: int, vehicle_id: int | None = None) -> QuerySet[VisitRecommendation]:
    """Suggested or declined items not yet recommended again at a later visit, newest first."""
    qs = (
        VisitRecommendation.objects.filter(
            visit__customer_id=customer_id, status__in=RECOMMENDATION_OPEN
        )
        .exclude(Exists(VisitRecommendation.objects.filter(recovered_from=OuterRef("pk"))))
        .select_related("service_template", "visit__vehicle", "visit__location")
        .order_by("-created_at", "-id")
    )
    if vehicle_id:
        qs = qs.filter(visit__vehicle_id=vehicle_id)
    return qs


def _latest_per_vehicle(qs: QuerySet, at: str, source: str, limit: int) -> QuerySet:
    """The ``limit`` newest rows of each vehicle in ``qs`` by ``at``: (vehicle, at, odometer, source)."""
    newest_first = Window(
        RowNumber(), partition_by=F("vehicle_id"), order_by=[F(at).desc(), F("pk").desc()]
    )
    return (
        qs.annotate(newest=newest_first, source=Value(source, output_field=CharField()))
        .filter(newest__lte=limit)
        .order_by()
        .values_list("vehicle_id", at, "odometer_in", "source")
    )


def vehicle_odometer_readings(
    *, vehicle_ids: list[int], limit: int = MILEAGE_READINGS
) -> dict[int, list[Reading]]:
    """Each vehicle's newest ``limit`` odometer readings, oldest first: one per visit check-in,
    plus cards opened without a visit (one query).

    Bounded so the page costs the same at any history length; recent driving is also what
    predicts the next service.
    """
    readings: dict[int, list[Reading]] = {vid: [] for vid in vehicle_ids}
    if not vehicle_ids:
        return readings
    visits = CustomerVisit.objects.filter(vehicle_id__in=vehicle_ids, odometer_in__isnull=False)
    cards = JobCard.objects.filter(vehicle_id__in=vehicle_ids, odometer_in__isnull=False, visit__isnull=True)
    rows = _latest_per_vehicle(visits, "check_in_at", "visit", limit).union(
        _latest_per_vehicle(cards, "opened_at", "job card", limit), all=True
    )
    for vehicle_id, at, odometer, source in rows:
        readings[vehicle_id].append(Reading(at=at, odometer=odometer, source=source))
    for vehicle_id, items in readings.items():
        items.sort(key=lambda r: r.at)
        readings[vehicle_id] = items[-limit:]
    return readings


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _interval_distance(template: ServiceTemplate, unit: str) -> int | None:
    if unit == DistanceUnit.KILOMETRES:
        if template.interval_km:
            return template.interval_km
        return round(template.interval_miles * KM_PER_MILE) if template.interval_miles else None
    if template.interval_miles:
        return template.interval_miles
    return round(template.interval_km / KM_PER_MILE) if template.interval_km else None


def _interval_due(
    *, vehicle: Vehicle, template: ServiceTemplate, last_at: datetime, last_odometer: int | None,
    mileage: VehicleMileage | None, today: date, tz_name: str,
) -> IntervalDue:
    unit = vehicle.odometer_unit
    last_day = timezone.localtime(last_at, zoneinfo.ZoneInfo(tz_name)).date()
    due_by_date = _add_months(last_day, template.interval_months) if template.interval_months else None
    distance = _interval_distance(template, unit)
    due_odometer = last_odometer + distance if (last_odometer is not None and distance) else None
    predicted = None
    if due_odometer is not None and mileage is not None and mileage.fit is not None:
        predicted = mileage.fit.date_reaching(due_odometer)
    predicted_day = (
        timezone.localtime(predicted.at, zoneinfo.ZoneInfo(tz_name)).date() if predicted else None
    )
    candidates = [(d, basis) for d, basis in ((due_by_date, "date"), (predicted_day, "mileage")) if d]
    due_on, basis = min(candidates) if candidates else (None, "date")
    odometer_now = mileage.estimated_odometer if mileage else vehicle.odometer
    if (due_on and due_on < today) or (due_odometer is not None and odometer_now >= due_odometer):
        status = IntervalStatus.OVERDUE
    elif (due_on and due_on <= today + timedelta(days=DUE_SOON_DAYS)) or (
        due_odometer is not None and odometer_now >= due_odometer - DUE_SOON_DISTANCE
    ):
        status = IntervalStatus.DUE_SOON
    else:
        status = IntervalStatus.UPCOMING
    return IntervalDue(
        vehicle=vehicle, template=template, last_service_at=last_at, last_odometer=last_odometer,
        due_by_date=due_by_date, due_odometer=due_odometer, predicted=predicted, due_on=due_on,
        basis=basis, status=status, distance_unit=unit, mileage=mileage,
    )


def _last_services(vehicle_ids: list[int]) -> list[dict]:
    """Per (vehicle, template with an interval): when it was last done and at what reading."""
    return list(
        JobLine.objects.filter(
            job_card__vehicle_id__in=vehicle_ids, job_card__status__in=_DONE,
            service_template__isnull=False,
        )
        .filter(
            Q(service_template__interval_months__isnull=False)
            | Q(service_template__interval_miles__isnull=False)
            | Q(service_template__interval_km__isnull=False)
        )
        .order_by()
        .values("job_card__vehicle_id", "service_template_id")
        # Odometers only grow, so the highest reading is the one at the last service.
        .annotate(
            last_at=Max("job_card__completed_at"),
            last_odometer=Max(Coalesce("job_card__odometer_in", "job_card__visit__odometer_in")),
        )
    )


def recovered_declined_stats(*, customer_id: int) -> tuple[int, Decimal]:
    """How many declined items were later accepted, and their estimated value."""
    row = VisitRecommendation.objects.filter(
        visit__customer_id=customer_id, status=RecommendationStatus.ACCEPTED
    ).filter(Q(declined_at__isnull=False) | Q(recovered_from__isnull=False)).aggregate(
        n=Count("id"), value=Sum("estimated_price")
    )
    return row["n"], quantize_money(row["value"] or 0)


def whats_next(
    *, customer_id: int, vehicle_id: int | None = None, tz_name: str = "UTC",
    now: datetime | None = None, vehicles: Iterable[Vehicle] | None = None,
) -> WhatsNext:
    """Open recommendations, service intervals due by date or predicted mileage, recovered work.

    ``vehicles``: the customer's vehicles when the caller has them loaded already (one query less).
    """
    now = now or timezone.now()
    today = timezone.localtime(now, zoneinfo.ZoneInfo(tz_name)).date()
    if vehicles is None:
        vehicles = Vehicle.objects.filter(customer_id=customer_id)
    vehicles = {
        v.pk: v for v in vehicles if v.customer_id == customer_id and (not vehicle_id or v.pk == vehicle_id)
    }
    result = WhatsNext()
    open_list = recommendation_open_list(customer_id=customer_id, vehicle_id=vehicle_id)
    # Pick the newest few first, then join their template, vehicle and location: joining before
    # the LIMIT would look those up for every open item of a long history only to sort them away.
    newest = open_list.select_related(None).values("pk")[:OPEN_RECOMMENDATIONS_SHOWN]
    shown = (
        VisitRecommendation.objects.filter(pk__in=Subquery(newest))
        .select_related("service_template", "visit__vehicle", "visit__location")
        .order_by("-created_at", "-id")
    )
    result.open_recommendations = [
        OpenRecommendation(recommendation=rec, age_days=max((now - rec.created_at).days, 0))
        for rec in shown
    ]
    # Always counted (not only when the list is full), so the query count never depends on data.
    # A separate COUNT, not a window over the list: that would join and sort every open row. The
    # value comes with it, so the KPIs can reuse both (``visit_kpis(open_recommendations=…)``).
    totals = open_list.order_by().aggregate(n=Count("id"), value=Sum("estimated_price"))
    result.open_total = totals["n"]
    result.open_value = quantize_money(totals["value"] or 0)
    for vid, readings in vehicle_odometer_readings(vehicle_ids=list(vehicles)).items():
        fit = fit_mileage(readings)
        estimate = vehicles[vid].odometer
        if fit is not None and fit.per_day > 0:
            estimate = max(estimate, round(fit.odometer_on(now)))
        result.mileage[vid] = VehicleMileage(
            vehicle=vehicles[vid], readings=readings, fit=fit, estimated_odometer=estimate
        )
    rows = _last_services(list(vehicles))
    templates = ServiceTemplate.objects.in_bulk({row["service_template_id"] for row in rows})
    for row in rows:
        vid = row["job_card__vehicle_id"]
        if row["last_at"] is None:
            continue
        result.intervals.append(
            _interval_due(
                vehicle=vehicles[vid], template=templates[row["service_template_id"]],
                last_at=row["last_at"], last_odometer=row["last_odometer"],
                mileage=result.mileage.get(vid), today=today, tz_name=tz_name,
            )
        )
    result.intervals.sort(key=lambda item: (item.due_on or date.max, item.template.name))
    result.recovered_count, result.recovered_value = recovered_declined_stats(customer_id=customer_id)
    return result


# --- KPIs for Customer 360 ------------------------------------------------------------------


@dataclass(frozen=True)
class VisitKpis:
    total_visits: int
    lifetime_spend: Decimal
    spend_last_12_months: Decimal
    average_satisfaction: Decimal | None  # on the 1-5 scale, one decimal
    rated_visits: int
    open_recommendations: int
    open_recommendations_value: Decimal
    last_visit: CustomerVisit | None
    currency: str


def visit_kpis(
    *, customer_id: int, now: datetime | None = None,
    open_recommendations: tuple[int, Decimal] | None = None,
) -> VisitKpis:
    """Visit KPIs of one customer in three queries: totals, open recommendations, last visit
    (two when the open recommendations are given).

    Spend counts checked-out visits only: money for work still on the lift is not spent yet.
    ``open_recommendations``: (count, value) of all the customer's open recommendations when the
    caller has them already — ``whats_next`` without a vehicle filter reads them (one query less).
    """
    now = now or timezone.now()
    done = Q(check_out_at__isnull=False)
    totals = CustomerVisit.objects.filter(customer_id=customer_id).aggregate(
        total_visits=Count("id"),
        lifetime_spend=Sum("total_spend", filter=done),
        recent_spend=Sum("total_spend", filter=done & Q(check_out_at__gte=now - timedelta(days=365))),
        average_satisfaction=Avg("satisfaction_score"),
        rated_visits=Count("id", filter=Q(satisfaction_score__isnull=False)),
    )
    if open_recommendations is None:
        open_recs = recommendation_open_list(customer_id=customer_id).order_by().aggregate(
            n=Count("id"), value=Sum("estimated_price")
        )
    else:
        open_recs = {"n": open_recommendations[0], "value": open_recommendations[1]}
    last_visit = (
        CustomerVisit.objects.filter(customer_id=customer_id)
        .select_related("location", "vehicle")
        .order_by(*TIMELINE_ORDER)
        .first()
    )
    average = totals["average_satisfaction"]
    return VisitKpis(
        total_visits=totals["total_visits"],
        lifetime_spend=quantize_money(totals["lifetime_spend"] or 0),
        spend_last_12_months=quantize_money(totals["recent_spend"] or 0),
        average_satisfaction=(
            Decimal(str(average)).quantize(Decimal("0.1")) if average is not None else None
        ),
        rated_visits=totals["rated_visits"],
        open_recommendations=open_recs["n"],
        open_recommendations_value=quantize_money(open_recs["value"] or 0),
        last_visit=last_visit,
        currency=last_visit.location.currency if last_visit else "USD",
    )
