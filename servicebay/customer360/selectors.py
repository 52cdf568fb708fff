"""Every read of the Customer 360 console.

The console composes the shop core (job cards, appointments, notes, the event log) with the
selectors of the feature apps as they land (see ``providers``). Each read is a fixed number of
queries — aggregates and one keyset page — so the screen costs the same for a customer with three
visits or three thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from servicebay.activity.models import Event
from servicebay.activity.selectors import event_list_for_customer
from servicebay.core.pagination import keyset_page
from servicebay.core.timezones import local
from servicebay.shop import selectors as shop_selectors
from servicebay.shop.choices import APPOINTMENT_ACTIVE, JobCardStatus
from servicebay.shop.models import Appointment, Customer, JobCard, Location, Note, ServiceTemplate

from . import feed, next_best
from .next_best import NextBestAction
from .providers import LOYALTY, MESSAGING, VISITS

# Job cards that count as a visit: the work was done (closed = also paid).
DONE = (JobCardStatus.COMPLETED, JobCardStatus.CLOSED)
CHART_MONTHS = 24
FEED_PAGE_SIZE = 20
PINNED_NOTES_SHOWN = 5
UPCOMING_SHOWN = 10
DEFAULT_CURRENCY = "USD"


# --- the customer and the money ----------------------------------------------------------------


def customer_for_console(*, customer_id: int) -> Customer:
    """The customer with home location and vehicles loaded (2 queries); 404 when unknown."""
    return shop_selectors.customer_get(customer_id=customer_id)


@dataclass(frozen=True)
class CurrencySpend:
    currency: str
    visits: int
    lifetime_spend: Decimal
    spend_last_12_months: Decimal


@dataclass(frozen=True)
class SpendSummary:
    """Visits and spend from completed or closed job cards, in the customer's main currency."""

    currency: str
    total_visits: int
    lifetime_spend: Decimal
    spend_last_12_months: Decimal
    last_visit_at: datetime | None
    # A customer served by locations in other currencies: those sums, never mixed into the above.
    other_currencies: tuple[CurrencySpend, ...] = ()


def customer_spend_summary(*, customer: Customer, now: datetime) -> SpendSummary:
    """Total visits, lifetime and last-12-months spend and last visit, in one grouped query."""
    year_ago = now - timedelta(days=365)
    rows = list(
        JobCard.objects.filter(customer_id=customer.pk, status__in=DONE)
        .values("location__currency")
        .annotate(
            visits=Count("id"),
            lifetime=Sum("total"),
            last_12=Sum("total", filter=Q(completed_at__gte=year_ago)),
            last_visit=Max("completed_at"),
        )
        .order_by()
    )
    by_currency = {
        row["location__currency"]: CurrencySpend(
            currency=row["location__currency"],
            visits=row["visits"],
            lifetime_spend=row["lifetime"] or Decimal("0"),
            spend_last_12_months=row["last_12"] or Decimal("0"),
        )
        for row in rows
    }
    currency = main_currency(customer, by_currency)
    main = by_currency.pop(currency, None)
    return SpendSummary(
        currency=currency,
        total_visits=sum(row["visits"] for row in rows),
        lifetime_spend=main.lifetime_spend if main else Decimal("0"),
        spend_last_12_months=main.spend_last_12_months if main else Decimal("0"),
        last_visit_at=max((row["last_visit"] for row in rows if row["last_visit"]), default=None),
        other_currencies=tuple(sorted(by_currency.values(), key=lambda c: c.currency)),
    )


def main_currency(customer: Customer, by_currency: dict[str, CurrencySpend] | None = None) -> str:
    """The home location's currency; else the one the customer spent most visits in."""
    if customer.home_location_id:
        return customer.home_location.currency
    if by_currency:
        return max(by_currency.values(), key=lambda c: (c.visits, c.currency)).currency
    return DEFAULT_CURRENCY


@dataclass(frozen=True)
class MonthPoint:
    month: date
    visits: int
    spend: Decimal


def _months_back(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def customer_monthly_spend(
    *, customer_id: int, currency: str, time_zone: str, now: datetime, months: int = CHART_MONTHS
) -> list[MonthPoint]:
    """Visits and spend per calendar month (in the customer's zone), oldest first, every month.

    Months without a visit are real zeros. Spend counts only job cards in ``currency``.
    """
    this_month = local(now, time_zone).date().replace(day=1)
    first = _months_back(this_month, months - 1)
    zone = local(now, time_zone).tzinfo
    start = datetime(first.year, first.month, 1, tzinfo=zone)
    rows = (
        JobCard.objects.filter(customer_id=customer_id, status__in=DONE, completed_at__gte=start)
        .annotate(month=TruncMonth("completed_at", tzinfo=zone))
        .values("month")
        .annotate(
            visits=Count("id"),
            spend=Sum("total", filter=Q(location__currency=currency)),
        )
        .order_by("month")
    )
    found = {local(row["month"], time_zone).date().replace(day=1): row for row in rows}
    series = []
    for offset in range(months - 1, -1, -1):
        month = _months_back(this_month, offset)
        row = found.get(month)
        series.append(
            MonthPoint(
                month=month,
                visits=row["visits"] if row else 0,
                spend=(row["spend"] or Decimal("0")) if row else Decimal("0"),
            )
        )
    return series


def customer_upcoming_appointments(
    *, customer_id: int, now: datetime, limit: int = UPCOMING_SHOWN
) -> list[Appointment]:
    """The next booked or confirmed appointments, soonest first (location, vehicle, services)."""
    return list(
        shop_selectors.appointment_list(customer_id=customer_id, start_from=now)
        .filter(status__in=APPOINTMENT_ACTIVE)
        .order_by("start_at", "id")[:limit]
    )


def customer_next_appointment(*, customer_id: int, now: datetime) -> Appointment | None:
    """The next booked or confirmed appointment."""
    upcoming = customer_upcoming_appointments(customer_id=customer_id, now=now, limit=1)
    return upcoming[0] if upcoming else None


def customer_pinned_notes(*, customer_id: int, limit: int = PINNED_NOTES_SHOWN) -> list[Note]:
    """The newest pinned notes, shown above the feed."""
    return list(
        shop_selectors.note_list(customer_id=customer_id)
        .filter(pinned=True)
        .order_by("-created_at", "-id")[:limit]
    )


# --- the activity feed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    event: Event
    line: feed.Line
    family: feed.Family | None
    time_zone: str = "UTC"  # where the feed shows its times (the customer's zone)

    @property
    def actor(self) -> str:
        return actor_display(self.event)

    @property
    def occurred_iso(self) -> str:
        """``occurred_at|date:'c'``: ISO 8601 in the active zone (the <time> element's datetime)."""
        return timezone.localtime(self.event.occurred_at).isoformat()

    @property
    def occurred_shown(self) -> str:
        """``occurred_at|in_zone:time_zone|date:"D j M Y, H:i"`` without the template filters."""
        return feed.shown_at(self.event.occurred_at, self.time_zone)


def actor_display(event: Event) -> str:
    if event.actor_user is not None:
        return event.actor_user.get_full_name() or event.actor_user.get_username()
    label = event.actor or ""
    if label.startswith("apikey:"):
        return f"API key {label.split(':', 1)[1]}"
    if label.startswith("user:"):
        return "A former user"
    return "ServiceBay" if label in ("", "system") else label.replace("_", " ")


@dataclass(frozen=True)
class ActivityPage:
    items: list[FeedItem]
    next_cursor: str | None
    kinds: tuple[str, ...] = ()
    time_zone: str = "UTC"  # the customer's: where the feed's times are shown


def activity_scope(customer_id: int, kinds: list[str] | tuple[str, ...]) -> str:
    """A cursor is valid only for the customer and filter it was issued for."""
    return f"c360-activity:{customer_id}:{','.join(sorted(kinds))}"


def customer_activity(
    *,
    customer: Customer,
    kinds: list[str] | tuple[str, ...] = (),
    cursor: str | None = None,
    limit: int = FEED_PAGE_SIZE,
    currency: str | None = None,
) -> ActivityPage:
    """One keyset page of the customer's events, newest first, optionally of some kinds.

    ``kinds`` takes family keys (``note``, ``loyalty`` …) and exact kinds (``note.added``). One
    query per page, on the (customer, occurred_at, id) index.
    """
    kinds = tuple(sorted(set(kinds)))
    qs = event_list_for_customer(customer_id=customer.pk)
    if kinds:
        qs = qs.filter(feed.kind_filter(list(kinds)))
    page = keyset_page(
        qs, order=("-occurred_at", "-id"), cursor=cursor, limit=limit,
        scope=activity_scope(customer.pk, kinds),
    )
    time_zone = customer.effective_time_zone
    ctx = feed.Context(time_zone=time_zone, currency=currency or main_currency(customer))
    items = [
        FeedItem(
            event=event,
            line=feed.describe(event.kind, event.payload, ctx),
            family=feed.family_of(event.kind),
            time_zone=time_zone,
        )
        for event in page.items
    ]
    return ActivityPage(items=items, next_cursor=page.next_cursor, kinds=kinds, time_zone=time_zone)


# --- choices for the quick actions ---------------------------------------------------------------


def bookable_locations() -> QuerySet[Location]:
    """Locations an appointment can be booked at, by name."""
    return shop_selectors.location_list().order_by("name")


def bookable_services() -> QuerySet[ServiceTemplate]:
    """Active services of the catalog, grouped by category."""
    return ServiceTemplate.objects.filter(is_active=True).order_by("category", "name")


def loyalty_spend_to_next_tier(summary: Any) -> Decimal | None:
    """Eligible spend that would earn the points still missing to the next tier (one query)."""
    if summary is None or not getattr(summary, "points_to_next_tier", 0):
        return None
    program = LOYALTY.call("program_get", program_id=summary.program_id)
    program_rules = LOYALTY.selector("program_rules")
    if program is None or program_rules is None:
        return None
    accrual = program_rules(program).accrual
    per_unit = Decimal(accrual.points_per_unit) * Decimal(
        accrual.tier_multipliers.get(summary.tier, Decimal("1"))
    )
    if per_unit <= 0:
        return None
    spend = Decimal(summary.points_to_next_tier) / per_unit
    return spend.quantize(Decimal("0.01"), rounding=ROUND_CEILING)


# --- the console ---------------------------------------------------------------------------------


@dataclass
class Customer360:
    """Everything the overview shows, read once per request."""

    customer: Customer
    now: datetime
    time_zone: str
    spend: SpendSummary
    upcoming: list[Appointment]
    series: list[MonthPoint]
    pinned_notes: list[Note]
    # What the feature apps add once they offer it (None until then):
    visits: Any = None  # visits.selectors.visit_kpis → VisitKpis
    whats_next: Any = None  # visits.selectors.whats_next → WhatsNext
    loyalty: Any = None  # loyalty.selectors.loyalty_summary → LoyaltySummary
    spend_to_next_tier: Decimal | None = None
    consent: Any = None  # messaging.selectors.consent_badges → [ConsentBadge]
    last_contacted_at: datetime | None = None
    next_best_actions: list[NextBestAction] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.spend.currency

    @property
    def next_appointment(self) -> Appointment | None:
        return self.upcoming[0] if self.upcoming else None

    @property
    def booked_service_ids(self) -> set[int]:
        """Services already asked for in an upcoming appointment."""
        return {service.pk for appointment in self.upcoming for service in appointment.services.all()}

    @property
    def vehicles(self) -> list:
        return list(self.customer.vehicles.all())

    @property
    def can_send_message(self) -> bool:
        """Messaging has landed and offers sending one message now."""
        return MESSAGING.service("message_send_now") is not None


def customer_360(*, customer_id: int, now: datetime | None = None) -> Customer360:
    """The console's overview for one customer: KPIs, chart, next appointment, pinned notes and
    what the feature apps add, then the next best actions derived from all of it."""
    now = now or timezone.now()
    customer = customer_for_console(customer_id=customer_id)
    spend = customer_spend_summary(customer=customer, now=now)
    time_zone = customer.effective_time_zone
    whats_next = VISITS.call("whats_next", customer_id=customer.pk, tz_name=time_zone, now=now,
                             vehicles=customer.vehicles.all())
    # "What's next" counted the open recommendations already: the KPIs reuse that (one query less).
    open_recommendations = (
        (whats_next.open_total, whats_next.open_value) if whats_next is not None else None
    )
    view = Customer360(
        customer=customer,
        now=now,
        time_zone=time_zone,
        spend=spend,
        upcoming=customer_upcoming_appointments(customer_id=customer.pk, now=now),
        series=customer_monthly_spend(
            customer_id=customer.pk, currency=spend.currency, time_zone=time_zone, now=now
        ),
        pinned_notes=customer_pinned_notes(customer_id=customer.pk),
        visits=VISITS.call("visit_kpis", customer_id=customer.pk, now=now,
                           open_recommendations=open_recommendations),
        whats_next=whats_next,
        loyalty=LOYALTY.call("loyalty_summary", customer_id=customer.pk, now=now),
        consent=MESSAGING.call("consent_badges", customer_id=customer.pk),
        last_contacted_at=MESSAGING.call("last_contacted_at", customer_id=customer.pk),
    )
    view.spend_to_next_tier = loyalty_spend_to_next_tier(view.loyalty)
    view.next_best_actions = next_best.actions_for(view)
    return view


@dataclass(frozen=True)
class VehicleHistory:
    visits: int
    spend: Decimal
    last_visit_at: datetime | None


def customer_vehicle_history(*, customer_id: int, currency: str) -> dict[int, VehicleHistory]:
    """Visits, spend (in ``currency``) and last visit per vehicle, in one grouped query."""
    rows = (
        JobCard.objects.filter(customer_id=customer_id, status__in=DONE)
        .values("vehicle_id")
        .annotate(
            visits=Count("id"),
            spend=Sum("total", filter=Q(location__currency=currency)),
            last_visit=Max("completed_at"),
        )
        .order_by()
    )
    return {
        row["vehicle_id"]: VehicleHistory(
            visits=row["visits"], spend=row["spend"] or Decimal("0"), last_visit_at=row["last_visit"]
        )
        for row in rows
    }
