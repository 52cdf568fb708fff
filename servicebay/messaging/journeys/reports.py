"""What a journey would do (dry run) and what it earned (attribution against the hold-out group)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone

from servicebay.activity.models import Event
from servicebay.shop.choices import JobCardStatus
from servicebay.shop.models import Appointment, Customer, JobCard

from ..choices import EnrollmentStatus
from ..definitions import (
    ConditionStep,
    EventTrigger,
    ExitStep,
    WaitStep,
    parse_definition,
)
from ..models import Journey, JourneyEnrollment, Message, MessageTemplate
from ..services import message_build
from .base import ENGINE, Planned, event_context, in_holdout
from .planning import plan_date_trigger
from .steps import condition_holds, context_refs, send_expiry, wait_until


@dataclass
class DryRunRow:
    customer: Customer
    when: datetime
    channel: str
    status: str
    reason: str
    template: str
    preview: str
    trigger: str


def journey_dry_run(*, journey: Journey, now: datetime | None = None, days: int = 7, limit: int = 200) -> list[DryRunRow]:
    """Who would get what, when, over the next ``days`` — nothing is written. Date triggers are
    planned forward; event triggers replay the last ``days`` of events as if they came again."""
    now = now or timezone.now()
    definition = parse_definition(journey.definition)
    until = now + timedelta(days=days)
    if isinstance(definition.trigger, EventTrigger):
        events = (
            Event.objects.filter(kind=definition.trigger.event, occurred_at__gte=now - timedelta(days=days),
                                 customer__isnull=False)
            .select_related("customer__home_location").order_by("-occurred_at")[:limit]
        )
        planned = [Planned(journey, e.customer, f"{e.kind}:{e.subject_id}", now, event_context(e))
                   for e in events]
    else:
        planned = plan_date_trigger(journey, definition, now, until)[:limit]
    templates = {t.code: t for t in MessageTemplate.objects.filter(code__in=definition.templates)}
    rows: list[DryRunRow] = []
    for item in planned:
        if in_holdout(journey, item.customer.pk):
            rows.append(DryRunRow(item.customer, item.start_at, "", "held_out", "Hold-out group", "", "", item.trigger_key))
            continue
        probe = JourneyEnrollment(journey=journey, customer=item.customer, trigger_key=item.trigger_key,
                                  context=item.context, created_at=now)
        at = item.start_at
        for step in definition.steps:
            if isinstance(step, WaitStep):
                at = wait_until(step, at, item.customer.effective_time_zone)
                continue
            if isinstance(step, ConditionStep):
                ok, reason = condition_holds(step, probe, max(at, now))
                if not ok:
                    rows.append(DryRunRow(item.customer, at, "", "exited", reason, "", "", item.trigger_key))
                    break
                continue
            if isinstance(step, ExitStep):
                break
            if at > until:
                break
            template = templates.get(step.template)
            if template is None:
                continue
            message = message_build(
                actor=ENGINE, customer=item.customer, purpose=step.purpose, template=template,
                channels=step.channels, due_at=at,
                expires_at=send_expiry(step, max(at, now), probe, item.customer.effective_time_zone),
                journey=journey, step_index=0, trigger_key=item.trigger_key, refs=context_refs(item.context),
            )
            rows.append(DryRunRow(item.customer, message.scheduled_for, message.channel, message.status,
                                  message.skip_reason, template.name,
                                  message.subject or message.body[:160], item.trigger_key))
    rows.sort(key=lambda r: (r.when, r.customer.pk))
    return rows


@dataclass
class GroupResult:
    customers: int
    booked: int
    revenue: Decimal

    @property
    def booking_rate(self) -> float:
        return self.booked / self.customers if self.customers else 0.0

    @property
    def revenue_per_customer(self) -> Decimal:
        return (self.revenue / self.customers).quantize(Decimal("0.01")) if self.customers else Decimal("0")


@dataclass
class Attribution:
    days: int
    treated: GroupResult
    control: GroupResult

    @property
    def lift(self) -> float | None:
        if not self.control.customers:
            return None
        return self.treated.booking_rate - self.control.booking_rate

    @property
    def incremental_revenue(self) -> Decimal | None:
        if not self.control.customers:
            return None
        return (self.treated.revenue_per_customer - self.control.revenue_per_customer) * self.treated.customers


def _group(enrollments, days: int) -> GroupResult:
    window = timedelta(days=days)
    rows = list(enrollments.values("customer_id", "created_at"))
    if not rows:
        return GroupResult(0, 0, Decimal("0"))
    ids = {r["customer_id"] for r in rows}
    first = min(r["created_at"] for r in rows)
    starts: dict[int, datetime] = {}
    for r in rows:
        starts[r["customer_id"]] = min(starts.get(r["customer_id"], r["created_at"]), r["created_at"])
    booked_at = defaultdict(list)
    for customer_id, created in Appointment.objects.filter(customer_id__in=ids, created_at__gte=first).values_list(
            "customer_id", "created_at"):
        booked_at[customer_id].append(created)
    spent = defaultdict(list)
    for customer_id, completed, total in JobCard.objects.filter(
            customer_id__in=ids, completed_at__gte=first,
            status__in=(JobCardStatus.COMPLETED, JobCardStatus.CLOSED)).values_list(
            "customer_id", "completed_at", "total"):
        spent[customer_id].append((completed, total))
    booked = sum(1 for c, s in starts.items() if any(s <= t <= s + window for t in booked_at[c]))
    revenue = sum((total for c, s in starts.items() for t, total in spent[c] if s <= t <= s + window), Decimal("0"))
    return GroupResult(len(starts), booked, revenue)


def journey_attribution(*, journey: Journey, since: datetime | None = None) -> Attribution:
    """Bookings and revenue within ``attribution_days`` of enrollment: customers who got the
    journey against the hold-out control group."""
    since = since or timezone.now() - timedelta(days=90)
    base = JourneyEnrollment.objects.filter(journey=journey, created_at__gte=since)
    days = journey.attribution_days
    return Attribution(
        days=days,
        treated=_group(base.exclude(status=EnrollmentStatus.HELD_OUT), days),
        control=_group(base.filter(status=EnrollmentStatus.HELD_OUT), days),
    )


def journey_stats(journey_ids: list[int]) -> dict[int, dict[str, int]]:
    """Enrollment and message counts per journey for the list page (two grouped queries)."""
    stats: dict[int, dict[str, int]] = {jid: defaultdict(int) for jid in journey_ids}
    for row in (JourneyEnrollment.objects.filter(journey_id__in=journey_ids)
                .values("journey_id", "status").annotate(n=Count("id")).order_by()):
        stats[row["journey_id"]][f"enrollments_{row['status']}"] = row["n"]
    for row in (Message.objects.filter(journey_id__in=journey_ids)
                .values("journey_id", "status").annotate(n=Count("id")).order_by()):
        stats[row["journey_id"]][f"messages_{row['status']}"] = row["n"]
    return stats
