"""Customer 360: the console for a customer with a long history, against raw SQL of the same reads.

Four measurements, each against a baseline from the same run:
- the activity feed's first page (``selectors.customer_activity``) against the hand-written SQL
  of the same page (the event log on its (customer, occurred_at, id) index, the author joined);
- the spend KPIs (``selectors.customer_spend_summary``) against the hand-written aggregate;
- everything the console's overview reads (``selectors.customer_360``: KPIs, chart, next
  appointment, pinned notes, the visits / loyalty / messaging figures, next best actions, plus the
  feed's first page) against replaying the exact SQL it sent, straight through the cursor: the cost
  of the ORM and the Python around the queries. Its query count must equal that of a twin
  customer with a three-visit history;
- the page as the server answers it (the view with its templates, forms and SVG chart) against
  replaying the SQL that page sent — the same bounded-query check applies.

A customer with ``HISTORY`` closed job cards (and their events, notes, visits and declined work)
is added to the seeded data set inside a transaction that is rolled back: the benchmark database is
left as found.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.core import Context, Result, median_ms
from servicebay.activity.models import Event
from servicebay.customer360 import selectors
from servicebay.customer360.providers import VISITS
from servicebay.shop.choices import JobCardStatus, JobLineKind
from servicebay.shop.models import (
    Customer,
    JobCard,
    JobLine,
    Location,
    Note,
    ServiceTemplate,
    Vehicle,
)

HISTORY = 1_000
TWIN_HISTORY = 3
PAGE = selectors.FEED_PAGE_SIZE
RATIO = 2.0  # DESIGN §5: server time within 2x the raw SQL of the same queries

RAW_FEED_SQL = """
SELECT e.id, e.kind, e.customer_id, e.subject_type, e.subject_id, e.actor, e.actor_user_id,
       e.occurred_at, e.payload, e.txid,
       u.id, u.username, u.first_name, u.last_name
FROM activity_event e
LEFT JOIN auth_user u ON u.id = e.actor_user_id
WHERE e.customer_id = %s
ORDER BY e.occurred_at DESC, e.id DESC
LIMIT %s
"""

RAW_SPEND_SQL = """
SELECT l.currency, COUNT(j.id), SUM(j.total),
       SUM(CASE WHEN j.completed_at >= %s THEN j.total END), MAX(j.completed_at)
FROM shop_jobcard j
JOIN shop_location l ON l.id = j.location_id
WHERE j.customer_id = %s AND j.status IN ('completed', 'closed')
GROUP BY l.currency
"""


def _customer_with_history(name: str, visits: int, location: Location) -> Customer:
    """A customer whose ``visits`` closed job cards, notes and events span the last years."""
    templates = list(ServiceTemplate.objects.filter(is_active=True).order_by("pk")[:8])
    customer = Customer.objects.create(first_name="Bench", last_name=name, home_location=location)
    vehicle = Vehicle.objects.create(customer=customer, make="Ford", model="Transit", year=2018,
                                     plate=f"C360{name[:4].upper()}", odometer=0)
    number = (JobCard.objects.filter(location=location).aggregate(n=Max("number"))["n"] or 0) + 1
    now = timezone.now()
    cards = []
    for i in range(visits):
        opened = now - timedelta(days=2 * (visits - i), hours=3)
        total = Decimal(80 + (i * 37) % 400)
        cards.append(JobCard(
            location=location, number=number + i, customer=customer, vehicle=vehicle,
            odometer_in=120 * i, status=JobCardStatus.CLOSED, subtotal=total, total=total,
            opened_at=opened, started_at=opened + timedelta(minutes=20),
            completed_at=opened + timedelta(hours=2), closed_at=opened + timedelta(hours=3),
        ))
    JobCard.objects.bulk_create(cards)
    JobLine.objects.bulk_create([
        JobLine(job_card=card, position=1, kind=JobLineKind.LABOR,
                description=templates[i % len(templates)].name,
                service_template=templates[i % len(templates)], unit_price=card.total)
        for i, card in enumerate(cards)
    ])
    notes = Note.objects.bulk_create([
        Note(customer=customer, body=f"Visit {i}: all good", pinned=i % 50 == 0,
             created_at=card.closed_at)
        for i, card in enumerate(cards) if i % 2 == 0
    ])
    events = []
    for card in cards:
        base = {"number": card.number, "location": location.name, "vehicle": str(vehicle)}
        for kind, at in (("jobcard.opened", card.opened_at), ("jobcard.completed", card.completed_at),
                         ("jobcard.closed", card.closed_at)):
            events.append(Event(kind=kind, customer=customer, subject_type="shop.jobcard",
                                subject_id=card.pk, actor="bench", occurred_at=at,
                                payload={**base, "total": str(card.total)}))
    events += [
        Event(kind="note.added", customer=customer, subject_type="shop.note", subject_id=note.pk,
              actor="bench", occurred_at=note.created_at,
              payload={"excerpt": note.body, "pinned": note.pinned})
        for note in notes
    ]
    Event.objects.bulk_create(events)
    if VISITS.offers("visit_kpis"):
        _visits_for(customer, vehicle, location, cards, templates)
    return customer


def _visits_for(customer, vehicle, location, cards, templates) -> None:
    from servicebay.visits.choices import RecommendationStatus, VisitType
    from servicebay.visits.models import CustomerVisit, VisitRecommendation

    visits = CustomerVisit.objects.bulk_create([
        CustomerVisit(
            customer=customer, vehicle=vehicle, job_card=card, visit_type=VisitType.WALK_IN,
            location=location, odometer_in=card.odometer_in, check_in_at=card.opened_at,
            check_out_at=card.closed_at, total_spend=card.total,
            satisfaction_score=(i % 5) + 1 if i % 3 == 0 else None,
        )
        for i, card in enumerate(cards)
    ])
    VisitRecommendation.objects.bulk_create([
        VisitRecommendation(
            visit=visit, service_template=templates[(i + 3) % len(templates)],
            status=RecommendationStatus.DECLINED, estimated_price=templates[(i + 3) % len(templates)].price,
            measured_value="pads 3 mm", created_at=visit.check_in_at, decided_at=visit.check_in_at,
            declined_at=visit.check_in_at,
        )
        for i, visit in enumerate(visits) if i % 4 == 0
    ])


def _orm_feed(customer: Customer) -> list[tuple]:
    page = selectors.customer_activity(customer=customer, limit=PAGE)
    return [(item.event.pk, item.event.kind) for item in page.items]


def _raw_feed(customer_id: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(RAW_FEED_SQL, [customer_id, PAGE + 1])
        rows = cursor.fetchall()[:PAGE]
    return [(row[0], row[1]) for row in rows]


def _orm_spend(customer: Customer, now) -> tuple:
    summary = selectors.customer_spend_summary(customer=customer, now=now)
    return summary.total_visits, summary.lifetime_spend, summary.spend_last_12_months


def _raw_spend(customer_id: int, now) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(RAW_SPEND_SQL, [now - timedelta(days=365), customer_id])
        rows = cursor.fetchall()
    return (sum(r[1] for r in rows), Decimal(str(rows[0][2])).quantize(Decimal("0.01")),
            Decimal(str(rows[0][3] or 0)).quantize(Decimal("0.01")))


def _console(customer_id: int, now) -> tuple:
    """What the overview reads: the 360 (with its providers) and the feed's first page."""
    view = selectors.customer_360(customer_id=customer_id, now=now)
    page = selectors.customer_activity(customer=view.customer, currency=view.currency)
    return view.spend.total_visits, len(view.next_best_actions), len(page.items)


def _page_renderer(user):
    """The console's overview as the server answers it: the view, its reads and its templates."""
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails

    from servicebay.customer360.views import customer_detail

    factory = RequestFactory()

    def render(customer_id: int) -> int:
        request = factory.get(f"/customer360/{customer_id}/", HTTP_HOST="localhost")
        request.user = user
        request.htmx = HtmxDetails(request)
        response = customer_detail(request, customer_id=customer_id)
        assert response.status_code == 200
        return len(response.content)

    return render


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
    location = Location.objects.order_by("pk").first()
    heavy = _customer_with_history("Thousand", HISTORY, location)
    twin = _customer_with_history("Three", TWIN_HISTORY, location)
    heavy = Customer.objects.select_related("home_location").get(pk=heavy.pk)
    now = timezone.now()
    events = Event.objects.filter(customer=heavy).count()
    note = f"{HISTORY:,} visits, {events:,} events"

    orm_ms, orm_rows = median_ms(lambda: _orm_feed(heavy), ctx.repeat)
    raw_ms, raw_rows = median_ms(lambda: _raw_feed(heavy.pk), ctx.repeat)
    same = orm_rows == raw_rows and len(orm_rows) == PAGE
    feed = Result(
        metric="customer 360 activity feed, first page", value=orm_ms, unit="ms", baseline=raw_ms,
        budget_ratio=RATIO, note=note + ("" if same else "; ROWS DIFFER from raw SQL"), failed=not same,
    )

    orm_ms, orm_kpis = median_ms(lambda: _orm_spend(heavy, now), ctx.repeat)
    raw_ms, raw_kpis = median_ms(lambda: _raw_spend(heavy.pk, now), ctx.repeat)
    same = orm_kpis == raw_kpis
    spend = Result(
        metric="customer 360 spend KPIs", value=orm_ms, unit="ms", baseline=raw_ms, budget_ratio=RATIO,
        note=note + ("" if same else f"; FIGURES DIFFER {orm_kpis} vs {raw_kpis}"), failed=not same,
    )

    statements = _captured_sql(lambda: _console(heavy.pk, now))
    twin_count = len(_captured_sql(lambda: _console(twin.pk, now)))
    console_ms, _ = median_ms(lambda: _console(heavy.pk, now), ctx.repeat)
    replay_ms, _ = median_ms(lambda: _replay(statements), ctx.repeat)
    bounded = twin_count == len(statements)
    console = Result(
        metric="customer 360 overview (all reads)", value=console_ms, unit="ms", baseline=replay_ms,
        budget_ratio=RATIO,
        note=f"{len(statements)} queries at {HISTORY:,} visits, {twin_count} at {TWIN_HISTORY}"
        + ("" if bounded else "; QUERY COUNT GROWS WITH HISTORY"),
        failed=not bounded,
    )
    user = User.objects.create_user(username="bench-c360-advisor")
    user.groups.add(Group.objects.get(name="advisor"))
    render = _page_renderer(user)
    render(twin.pk)  # the user's roles are read once per request user, then cached on it
    statements = _captured_sql(lambda: render(heavy.pk))
    twin_count = len(_captured_sql(lambda: render(twin.pk)))
    page_ms, size = median_ms(lambda: render(heavy.pk), ctx.repeat)
    replay_ms, _ = median_ms(lambda: _replay(statements), ctx.repeat)
    bounded = twin_count == len(statements)
    page = Result(
        metric="customer 360 page (server time, rendered)", value=page_ms, unit="ms",
        baseline=replay_ms, budget_ratio=RATIO,
        note=f"{len(statements)} queries, {size // 1024} KiB of HTML; {twin_count} queries at "
        f"{TWIN_HISTORY} visits" + ("" if bounded else "; QUERY COUNT GROWS WITH HISTORY"),
        failed=not bounded,
    )
    return [feed, spend, console, page]


def run(ctx: Context) -> list[Result]:
    with transaction.atomic():
        results = _measure(ctx)
        transaction.set_rollback(True)
    return results
