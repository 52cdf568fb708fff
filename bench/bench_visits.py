"""Visits: a customer's timeline, first page, for a customer with 1,000 visits.

Two measurements, each against a baseline from the same run:
- the page query itself (``selectors.visit_timeline_page``) against the hand-written SQL a careful
  engineer would use (same joins, the three recommendation counts as correlated subqueries);
- everything the timeline's first page reads (page, "What's next", KPIs) against replaying the
  exact SQL those selectors sent, straight through the cursor — the cost of the ORM and the
  Python around the queries. Its query count must be the same for a one-visit customer.

The seed data set has job cards but (until the demo generator writes visits) no visit rows, so the
benchmark first gives every seeded job card its visit with one INSERT … SELECT, then adds the
1,000-visit customer, measures, and rolls all of it back: the benchmark database is left as found.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.core import Context, Result, median_ms
from servicebay.shop.choices import JobCardStatus, JobLineKind
from servicebay.shop.models import (
    Customer,
    JobCard,
    JobLine,
    Location,
    Part,
    ServiceTemplate,
    Vehicle,
)
from servicebay.shop.services import line_amounts
from servicebay.visits import selectors
from servicebay.visits.choices import RecommendationStatus, VisitType
from servicebay.visits.models import CustomerVisit, VisitRecommendation

HISTORY = 1_000
PAGE = 20
RATIO = 2.0  # DESIGN §5: server time within 2x the raw SQL of the same queries

BACKFILL_SQL = """
INSERT INTO visits_customervisit (
    customer_id, vehicle_id, job_card_id, appointment_id, visit_type, location_id, advisor_id,
    odometer_in, check_in_at, check_out_at, total_spend, satisfaction_comment,
    satisfaction_source, updated_at
)
SELECT jc.customer_id, jc.vehicle_id, jc.id, jc.appointment_id,
       CASE WHEN jc.appointment_id IS NULL THEN 'walk_in' ELSE 'scheduled' END,
       jc.location_id, jc.advisor_id, jc.odometer_in, jc.opened_at,
       CASE WHEN jc.status IN ('completed', 'closed', 'cancelled')
            THEN COALESCE(jc.closed_at, jc.completed_at, jc.cancelled_at) END,
       CASE WHEN jc.status = 'cancelled' THEN 0 ELSE jc.total END,
       '', '', jc.updated_at
FROM shop_jobcard jc
WHERE NOT EXISTS (SELECT 1 FROM visits_customervisit v WHERE v.job_card_id = jc.id)
"""

RAW_PAGE_SQL = """
SELECT v.id, v.customer_id, v.vehicle_id, v.job_card_id, v.appointment_id, v.visit_type,
       v.location_id, v.advisor_id, v.odometer_in, v.check_in_at, v.check_out_at, v.total_spend,
       v.satisfaction_score, v.satisfaction_comment, v.satisfaction_source,
       (SELECT COUNT(*) FROM visits_visitrecommendation r WHERE r.visit_id = v.id AND r.status = %s),
       (SELECT COUNT(*) FROM visits_visitrecommendation r WHERE r.visit_id = v.id AND r.status = %s),
       (SELECT COUNT(*) FROM visits_visitrecommendation r WHERE r.visit_id = v.id AND r.status = %s),
       veh.id, veh.year, veh.make, veh.model, veh.plate, veh.odometer_unit,
       l.id, l.name, l.time_zone, l.currency
FROM visits_customervisit v
JOIN shop_vehicle veh ON veh.id = v.vehicle_id
JOIN shop_location l ON l.id = v.location_id
WHERE v.customer_id = %s
ORDER BY v.check_in_at DESC, v.id DESC
LIMIT %s
"""


def _backfill_visits() -> int:
    with connection.cursor() as cursor:
        cursor.execute(BACKFILL_SQL)
        return cursor.rowcount


def _heavy_customer() -> Customer:
    """A customer with HISTORY finished visits a couple of days apart, each with lines and advice."""
    location = Location.objects.order_by("pk").first()
    templates = list(ServiceTemplate.objects.filter(is_active=True).order_by("pk")[:8])
    parts = list(Part.objects.filter(is_active=True).order_by("pk")[:8])
    customer = Customer.objects.create(first_name="Bench", last_name="Thousand", home_location=location)
    vehicle = Vehicle.objects.create(customer=customer, make="Ford", model="Transit", year=2018,
                                     plate="BENCH1K", odometer=0)
    number = (JobCard.objects.filter(location=location).aggregate(n=Max("number"))["n"] or 0) + 1
    now = timezone.now()
    cards, lines_of = [], []
    for i in range(HISTORY):
        opened = now - timedelta(days=2 * (HISTORY - i), hours=3)
        template, part = templates[i % len(templates)], parts[i % len(parts)]
        lines = [
            JobLine(position=1, kind=JobLineKind.LABOR, description=template.name,
                    service_template=template, quantity=Decimal("1"), unit_price=template.price),
            JobLine(position=2, kind=JobLineKind.PART, description=part.name, part=part,
                    quantity=Decimal("2"), unit_price=part.price, tax_rate=Decimal("0.0825")),
        ]
        subtotal = sum(line_amounts(line)[0] for line in lines)
        tax = sum(line_amounts(line)[1] for line in lines)
        cards.append(JobCard(
            location=location, number=number + i, customer=customer, vehicle=vehicle,
            odometer_in=60 * i * 2, status=JobCardStatus.CLOSED, subtotal=subtotal, tax_total=tax,
            total=subtotal + tax, opened_at=opened, started_at=opened + timedelta(minutes=20),
            completed_at=opened + timedelta(hours=2), closed_at=opened + timedelta(hours=3),
        ))
        lines_of.append(lines)
    JobCard.objects.bulk_create(cards)
    for card, lines in zip(cards, lines_of, strict=True):
        for line in lines:
            line.job_card = card
    JobLine.objects.bulk_create([line for lines in lines_of for line in lines])
    visits = CustomerVisit.objects.bulk_create([
        CustomerVisit(
            customer=customer, vehicle=vehicle, job_card=card, visit_type=VisitType.WALK_IN,
            location=location, odometer_in=card.odometer_in, check_in_at=card.opened_at,
            check_out_at=card.closed_at, total_spend=card.total,
            satisfaction_score=(i % 5) + 1 if i % 3 == 0 else None,
        )
        for i, card in enumerate(cards)
    ])
    statuses = (RecommendationStatus.SUGGESTED, RecommendationStatus.ACCEPTED, RecommendationStatus.DECLINED)
    VisitRecommendation.objects.bulk_create([
        VisitRecommendation(
            visit=visit, service_template=templates[(i + 3) % len(templates)], status=status,
            estimated_price=templates[(i + 3) % len(templates)].price, measured_value="pads 3 mm",
            created_at=visit.check_in_at,
            decided_at=None if status == RecommendationStatus.SUGGESTED else visit.check_in_at,
            declined_at=visit.check_in_at if status == RecommendationStatus.DECLINED else None,
        )
        for i, visit in enumerate(visits)
        for status in statuses[: 1 + i % 3]
    ])
    return customer


def _orm_page(customer_id: int) -> list[tuple]:
    page = selectors.visit_timeline_page(customer_id=customer_id, limit=PAGE)
    return [(v.pk, v.location.name, v.vehicle.plate, v.total_spend,
             v.suggested_count, v.accepted_count, v.declined_count) for v in page.items]


def _raw_page(customer_id: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(RAW_PAGE_SQL, [RecommendationStatus.SUGGESTED, RecommendationStatus.ACCEPTED,
                                      RecommendationStatus.DECLINED, customer_id, PAGE + 1])
        rows = cursor.fetchall()[:PAGE]
    return [(r[0], r[25], r[22], Decimal(str(r[11])), r[15], r[16], r[17]) for r in rows]


def _first_page(customer: Customer) -> tuple:
    """What the timeline page reads: the first page, "What's next" and the KPIs."""
    zone = customer.home_location.time_zone if customer.home_location_id else "UTC"
    filters = selectors.TimelineFilters(time_zone=zone)
    page = selectors.visit_timeline_page(customer_id=customer.pk, filters=filters, limit=PAGE)
    items = [(v.pk, v.suggested_count, v.accepted_count, v.declined_count) for v in page.items]
    upcoming = selectors.whats_next(customer_id=customer.pk, tz_name=zone)
    kpis = selectors.visit_kpis(customer_id=customer.pk)
    return items, len(upcoming.open_recommendations), len(upcoming.intervals), kpis.total_visits


def _captured_sql(fn) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return [q["sql"] for q in captured.captured_queries
            if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]


def _replay(statements: list[str]) -> int:
    rows = 0
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
            rows += len(cursor.fetchall())
    return rows


def _measure(ctx: Context) -> list[Result]:
    backfilled = _backfill_visits()
    heavy = _heavy_customer()
    light = Customer.objects.filter(visits__isnull=False).order_by("pk").first() or heavy
    note = f"{HISTORY:,} visits, {PAGE} per page, {backfilled:,} seeded visits backfilled"

    orm_ms, orm_rows = median_ms(lambda: _orm_page(heavy.pk), ctx.repeat)
    raw_ms, raw_rows = median_ms(lambda: _raw_page(heavy.pk), ctx.repeat)
    same = orm_rows == raw_rows and len(orm_rows) == PAGE
    page_result = Result(
        metric="timeline first page (query)", value=orm_ms, unit="ms", baseline=raw_ms,
        budget_ratio=RATIO, note=note + ("" if same else "; ROWS DIFFER from raw SQL"),
        failed=not same,
    )

    heavy = Customer.objects.select_related("home_location").get(pk=heavy.pk)
    light = Customer.objects.select_related("home_location").get(pk=light.pk)
    statements = _captured_sql(lambda: _first_page(heavy))
    light_count = len(_captured_sql(lambda: _first_page(light)))
    full_ms, _ = median_ms(lambda: _first_page(heavy), ctx.repeat)
    replay_ms, _ = median_ms(lambda: _replay(statements), ctx.repeat)
    bounded = light_count == len(statements)
    full_result = Result(
        metric="timeline first page (page + what's next + KPIs)", value=full_ms, unit="ms",
        baseline=replay_ms, budget_ratio=RATIO,
        note=f"{len(statements)} queries at {HISTORY:,} visits, {light_count} at a short history"
        + ("" if bounded else "; QUERY COUNT GROWS WITH HISTORY"),
        failed=not bounded,
    )
    return [page_result, full_result]


def run(ctx: Context) -> list[Result]:
    with transaction.atomic():
        results = _measure(ctx)
        transaction.set_rollback(True)
    return results
