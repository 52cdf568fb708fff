"""Date triggers: birthdays, upcoming appointments, services falling due."""

from __future__ import annotations

import calendar
import zoneinfo
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import CharField, F, Func, Max, Q
from django.utils import timezone

from servicebay.shop.choices import APPOINTMENT_ACTIVE, DistanceUnit, JobCardStatus
from servicebay.shop.models import Appointment, Customer, JobLine, ServiceTemplate, Vehicle

from ..definitions import (
    AppointmentTrigger,
    BirthdayTrigger,
    EventTrigger,
    JourneyDefinition,
    ServiceDueTrigger,
)
from ..models import Journey, JourneyEnrollment
from .base import Planned, active_journeys, journey_enroll, local_at, zone

PLAN_AHEAD = timedelta(days=2)


def _birthday_in(year: int, birthday: date) -> date:
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


class MonthDay(Func):
    """``MM-DD`` of a date with the database's own function (no Python per row on SQLite)."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="strftime('%%m-%%d', %(expressions)s)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="to_char(%(expressions)s, 'MM-DD')", **extra)


def _plan_birthdays(journey: Journey, trigger: BirthdayTrigger, now: datetime, until: datetime) -> list[Planned]:
    days = {(now + timedelta(days=i)).date() for i in range(-1, (until - now).days + 2)}
    month_days = {f"{d.month:02d}-{d.day:02d}" for d in days}
    if any(d.month == 2 and d.day == 28 and not calendar.isleap(d.year) for d in days):
        month_days.add("02-29")
    customers = (
        Customer.objects.filter(birthday__isnull=False)
        .annotate(month_day=MonthDay("birthday")).filter(month_day__in=sorted(month_days))
        .select_related("home_location")
    )
    out = []
    for customer in customers.iterator(chunk_size=2000):
        tz_name = customer.effective_time_zone
        local_today = timezone.localtime(now, zone(tz_name)).date()
        for year in (local_today.year, local_today.year + 1):
            day = _birthday_in(year, customer.birthday)
            start = local_at(day, trigger.send_at, tz_name)
            end_of_day = local_at(day + timedelta(days=1), time(0), tz_name)
            if now - timedelta(hours=12) <= start <= until and end_of_day > now:
                out.append(Planned(journey, customer, f"birthday:{year}", max(start, now),
                                   {"expires_at": end_of_day.isoformat()}))
    return out


def _plan_appointments(journey: Journey, trigger: AppointmentTrigger, now: datetime, until: datetime) -> list[Planned]:
    lead = timedelta(hours=trigger.hours_before)
    appointments = (
        Appointment.objects.filter(status__in=APPOINTMENT_ACTIVE, start_at__gt=now, start_at__lte=until + lead)
        .select_related("customer__home_location")
    )
    return [
        Planned(journey, a.customer, f"appointment:{a.pk}:{a.start_at:%Y%m%dT%H%M}", max(a.start_at - lead, now),
                {"appointment_id": a.pk, "vehicle_id": a.vehicle_id, "location_id": a.location_id,
                 "start_at": a.start_at.isoformat()})
        for a in appointments.iterator(chunk_size=2000)
    ]


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


KM_PER_MILE = 1.609344


def _mileage_interval(template: ServiceTemplate, unit: str) -> int | None:
    if unit == DistanceUnit.KILOMETRES:
        if template.interval_km:
            return template.interval_km
        return round(template.interval_miles * KM_PER_MILE) if template.interval_miles else None
    if template.interval_miles:
        return template.interval_miles
    return round(template.interval_km / KM_PER_MILE) if template.interval_km else None


def _last_services(template: ServiceTemplate):
    done = (JobCardStatus.COMPLETED, JobCardStatus.CLOSED)
    return (
        JobLine.objects.filter(service_template=template, job_card__status__in=done)
        .values("job_card__vehicle_id", "job_card__customer_id")
        .annotate(last_at=Max("job_card__completed_at"))
        .order_by()
    )


def _due_by_date(template: ServiceTemplate, window_from: date, window_to: date):
    """(customer, vehicle, due day, last service) whose months interval ends in the window: one
    grouped query on the last service date."""
    utc = zoneinfo.ZoneInfo("UTC")
    lo = datetime.combine(add_months(window_from, -template.interval_months) - timedelta(days=1), time(0), tzinfo=utc)
    hi = datetime.combine(add_months(window_to, -template.interval_months) + timedelta(days=2), time(0), tzinfo=utc)
    for row in _last_services(template).filter(last_at__gte=lo, last_at__lt=hi):
        due_on = add_months(row["last_at"].date(), template.interval_months)
        if window_from <= due_on <= window_to:
            yield row["job_card__customer_id"], row["job_card__vehicle_id"], due_on, row["last_at"]


def _due_by_mileage(template: ServiceTemplate, today: date):
    """Vehicles whose odometer passed the last service's reading plus the interval: due today."""
    for unit in DistanceUnit.values:
        interval = _mileage_interval(template, unit)
        if not interval:
            continue
        rows = (
            _last_services(template)
            .filter(job_card__vehicle__odometer_unit=unit, job_card__odometer_in__isnull=False)
            .annotate(last_odometer=Max("job_card__odometer_in"), odometer=Max("job_card__vehicle__odometer"))
            .filter(odometer__gte=F("last_odometer") + interval)
        )
        for row in rows:
            yield row["job_card__customer_id"], row["job_card__vehicle_id"], today, row["last_at"]


def _reminded(journey: Journey, since: datetime) -> dict[tuple[int, int], datetime]:
    """(vehicle, service template) → when this journey last reminded about it."""
    out: dict[tuple[int, int], datetime] = {}
    rows = JourneyEnrollment.objects.filter(journey=journey, created_at__gte=since).values_list(
        "context__vehicle_id", "context__service_due__template_ids", "created_at")
    for vehicle_id, template_ids, created in rows:
        for template_id in template_ids or []:
            key = (vehicle_id, template_id)
            out[key] = max(out.get(key, created), created)
    return out


def _plan_service_due(journey: Journey, trigger: ServiceDueTrigger, now: datetime, until: datetime) -> list[Planned]:
    """Services falling due by date (months interval) or by mileage (the odometer passed the last
    service's reading plus the miles/km interval), sent ``days_before`` a date due. Bundled per
    vehicle and ISO week — the window always covers whole weeks, so two services due the same
    week make one message — and never repeated for the same service until it is done again."""
    lead = timedelta(days=trigger.days_before)
    window_from = (now + lead - timedelta(days=1)).date()
    last_day = (until + lead + timedelta(days=1)).date()
    window_to = last_day + timedelta(days=7 - last_day.isoweekday())  # to the week's Sunday
    today = now.date()
    due: dict[tuple[int, int], dict[int, tuple[date, ServiceTemplate, datetime]]] = defaultdict(dict)
    for template in ServiceTemplate.objects.filter(is_active=True).filter(
            Q(interval_months__isnull=False) | Q(interval_miles__isnull=False) | Q(interval_km__isnull=False)):
        found = []
        if template.interval_months:
            found += list(_due_by_date(template, window_from, window_to))
        if template.interval_miles or template.interval_km:
            found += list(_due_by_mileage(template, today + lead))
        for customer_id, vehicle_id, due_on, last_at in found:
            current = due[(customer_id, vehicle_id)].get(template.pk)
            if current is None or due_on < current[0]:  # whichever comes first, date or mileage
                due[(customer_id, vehicle_id)][template.pk] = (due_on, template, last_at)
    if not due:
        return []
    earliest = min(last for items in due.values() for _, _, last in items.values())
    reminded = _reminded(journey, earliest)
    customers = Customer.objects.select_related("home_location").in_bulk({c for c, _ in due})
    vehicles = Vehicle.objects.in_bulk({v for _, v in due})
    out = []
    for (customer_id, vehicle_id), by_template in due.items():
        customer, vehicle = customers.get(customer_id), vehicles.get(vehicle_id)
        if customer is None or vehicle is None or vehicle.customer_id != customer_id:
            continue  # the vehicle changed hands: no reminder to its former owner
        weeks: dict[tuple[int, int], list[tuple[date, ServiceTemplate]]] = defaultdict(list)
        for template_id, (due_on, template, last_at) in by_template.items():
            if reminded.get((vehicle_id, template_id), last_at) > last_at:
                continue  # already reminded since it was last done
            weeks[due_on.isocalendar()[:2]].append((due_on, template))
        tz_name = customer.effective_time_zone
        for (year, week), bundle in weeks.items():
            first = min(d for d, _ in bundle)
            start = max(local_at(first - lead, trigger.send_at, tz_name), now)
            if start > until + timedelta(days=7):
                continue
            names = sorted({t.name for _, t in bundle})
            out.append(Planned(
                journey, customer, f"service_due:{vehicle_id}:{year}W{week:02d}", start,
                {"vehicle_id": vehicle_id, "service_due": {
                    "services": names, "date": first.strftime("%a %-d %b"), "vehicle": str(vehicle),
                    "template_ids": sorted(t.pk for _, t in bundle)}},
            ))
    return out


def plan_date_trigger(journey: Journey, definition: JourneyDefinition, now: datetime, until: datetime) -> list[Planned]:
    trigger = definition.trigger
    if isinstance(trigger, BirthdayTrigger):
        return _plan_birthdays(journey, trigger, now, until)
    if isinstance(trigger, AppointmentTrigger):
        return _plan_appointments(journey, trigger, now, until)
    if isinstance(trigger, ServiceDueTrigger):
        return _plan_service_due(journey, trigger, now, until)
    return []


def dates_plan(*, now: datetime | None = None, ahead: timedelta = PLAN_AHEAD) -> int:
    """Enroll customers whose birthday, appointment or service date comes within ``ahead``.
    Idempotent: the trigger key (year, appointment and time, vehicle and week) enrolls once."""
    now = now or timezone.now()
    enrolled = 0
    for journey, definition in active_journeys():
        if isinstance(definition.trigger, EventTrigger):
            continue
        planned = plan_date_trigger(journey, definition, now, now + ahead)
        with transaction.atomic():
            existing = set(
                JourneyEnrollment.objects.filter(journey=journey, trigger_key__in=[p.trigger_key for p in planned])
                .values_list("customer_id", "trigger_key")
            ) if len(planned) < 5000 else set()
            for item in planned:
                if (item.customer.pk, item.trigger_key) in existing:
                    continue
                if journey_enroll(journey=journey, customer_id=item.customer.pk, trigger_key=item.trigger_key,
                                  start_at=item.start_at, context=item.context):
                    enrolled += 1
    return enrolled
