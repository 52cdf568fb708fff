"""Messaging: dispatch throughput to a local Twilio-compatible HTTP provider with realistic latency,
and the time to plan the birthday and service-due journeys over the whole data set.

Dispatch: ServiceBay claims due rows (``SKIP LOCKED`` on PostgreSQL, with three dispatchers racing;
one on SQLite), checks consent, suppression, quiet hours and expiry again at send time, talks to
the provider from a pool of 16 connections outside the transaction, and records each outcome with
its event. The baseline posts the same messages with the same client and pool and marks them sent
with one raw UPDATE each — what a bare loop would do. The provider counts requests per idempotency
key: any duplicate fails the run.

Planning: which customers a birthday journey and a service-due journey would enroll over the next
two days, computed by ServiceBay's planner (local zones, leap days, bundling per vehicle and week)
against the hand-written SQL that selects the same rows.

Everything this writes (a location, its customers, their messages and events) is removed after.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from datetime import time as dtime

import httpx
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Count
from django.utils import timezone

from bench.core import Context, Result, median_ms
from servicebay.core.actors import Actor
from servicebay.messaging import journeys, outbox, services
from servicebay.messaging.choices import Channel, MessageStatus, Purpose
from servicebay.messaging.definitions import parse_definition
from servicebay.messaging.journeys.planning import KM_PER_MILE
from servicebay.messaging.models import Journey, Message, MessageTemplate
from servicebay.shop import services as shop
from servicebay.shop.models import Customer, Location
from tests.messaging.provider_emulator import ACCOUNT, TOKEN, EmulatorProcess

MESSAGES = 600
LATENCY = 0.03  # 30 ms per provider request, like a nearby region
POOL = 16
MIN_RATE = 200.0  # messages per second (DESIGN §5: "hundreds of messages per second")
ACTOR = Actor.system("bench:messaging")


def _setup(count: int) -> tuple[Location, list[Customer]]:
    location = shop.location_create(name=f"Bench messaging {time.time_ns()}", time_zone="UTC",
                                    quiet_hours_start=dtime(0), quiet_hours_end=dtime(0))
    base = time.time_ns() % 10_000
    customers = [
        shop.customer_create(actor=ACTOR, first_name="Bench", last_name=f"Sms{i}", home_location=location,
                             phone=f"+1312555{(base + i) % 10_000:04d}", email="")
        for i in range(count)
    ]
    return location, customers


def _schedule(customers: list[Customer], label: str) -> list[Message]:
    return [
        services.message_schedule(customer=c, purpose=Purpose.TRANSACTIONAL, actor=ACTOR, channel=Channel.SMS,
                                  text="Your car is ready, {{ customer.first_name }}.",
                                  idempotency_key=f"bench:{label}:{c.pk}")
        for c in customers
    ]


def _cleanup(location: Location) -> None:
    Customer.objects.filter(home_location=location).delete()
    location.delete()


def _dispatch_servicebay(now: datetime) -> None:
    workers = 3 if connection.vendor == "postgresql" else 1
    if workers == 1:
        outbox.outbox_drain(now=now, batch=200)
        return

    def loop():
        try:
            outbox.outbox_drain(now=now, batch=100)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=loop) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _dispatch_baseline(messages: list[Message], emulator: EmulatorProcess) -> None:
    client = httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=POOL))
    url = f"{emulator.base_url}/Accounts/{ACCOUNT}/Messages.json"

    def post(message: Message) -> str:
        response = client.post(url, data={"To": message.to_address, "From": "+13125550100", "Body": message.body},
                               auth=(ACCOUNT, TOKEN), headers={"Idempotency-Key": message.idempotency_key})
        return response.json()["sid"]

    with ThreadPoolExecutor(max_workers=POOL) as pool:
        sids = list(pool.map(post, messages))
    with connection.cursor() as cursor:
        for message, sid in zip(messages, sids, strict=True):
            with transaction.atomic():
                cursor.execute(
                    "UPDATE messaging_message SET status = %s, provider_message_id = %s, sent_at = %s WHERE id = %s",
                    [MessageStatus.SENT, sid, timezone.now(), message.pk],
                )
    client.close()


def _dispatch(ctx: Context) -> Result:
    emulator = EmulatorProcess(latency=LATENCY)
    overrides = {"SMS_API_URL": emulator.base_url, "SMS_ACCOUNT_SID": ACCOUNT, "SMS_API_KEY": TOKEN,
                 "SMS_FROM": "+13125550100", "MESSAGING_SEND_CONCURRENCY": POOL}
    saved = {name: getattr(settings, name, None) for name in overrides}
    for name, value in overrides.items():
        setattr(settings, name, value)
    location, customers = _setup(MESSAGES)
    try:
        _schedule(customers, "sb")
        started = time.perf_counter()
        _dispatch_servicebay(timezone.now())
        ours = MESSAGES / (time.perf_counter() - started)
        # Untimed: what the next round does for a send whose answer was lost in transit (``unknown``):
        # ask the provider. Found → sent; so a lost answer is neither a loss nor a duplicate.
        settled = outbox.outbox_reconcile(now=timezone.now() + outbox.lease() + timedelta(seconds=1)).sent
        statuses = dict(Message.objects.filter(customer__home_location=location).values_list("status")
                        .annotate(n=Count("id")).order_by())
        sent = statuses.get(MessageStatus.SENT, 0)
        per_key = emulator.per_idempotency_key()
        duplicates = sum(n - 1 for n in per_key.values() if n > 1)

        Message.objects.filter(customer__home_location=location).delete()
        baseline_messages = _schedule(customers, "raw")
        started = time.perf_counter()
        _dispatch_baseline(baseline_messages, emulator)
        raw = MESSAGES / (time.perf_counter() - started)
    finally:
        _cleanup(location)
        emulator.stop()
        for name, value in saved.items():
            setattr(settings, name, value)
    failed = duplicates > 0 or sent != MESSAGES
    note = f"{MESSAGES} SMS, {LATENCY * 1000:.0f} ms provider latency, {duplicates} duplicate(s), {sent} sent"
    if settled:
        note += f", {settled} settled by reconciliation"
    if sent != MESSAGES:
        note += f" (statuses {statuses})"
    return Result("messaging: dispatch to HTTP provider", ours, "msg/s", raw, budget_ratio=2.0,
                  budget_abs=MIN_RATE, higher_is_better=True, note=note, failed=failed)


# --- planning ------------------------------------------------------------------------------------


def _birthday_baseline(now: datetime, until: datetime) -> set[int]:
    days = {(now + timedelta(days=i)).date() for i in range(-1, (until - now).days + 2)}
    pairs = sorted({(d.month, d.day) for d in days})
    if connection.vendor == "postgresql":
        condition = " OR ".join(
            "(EXTRACT(MONTH FROM birthday) = %s AND EXTRACT(DAY FROM birthday) = %s)" for _ in pairs)
    else:
        condition = " OR ".join(
            "(CAST(strftime('%%m', birthday) AS INTEGER) = %s AND CAST(strftime('%%d', birthday) AS INTEGER) = %s)"
            for _ in pairs)
    params = [v for pair in pairs for v in pair]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, c.birthday, c.time_zone, l.time_zone FROM shop_customer c "
            "LEFT JOIN shop_location l ON l.id = c.home_location_id "
            f"WHERE c.birthday IS NOT NULL AND ({condition})", params)
        return {row[0] for row in cursor.fetchall()}


def _service_due_baseline(now: datetime, lead_days: int, until: datetime) -> set[int]:
    """Customers with a service due by date in the window (to the last day's Sunday, as the planner
    bundles whole weeks) or due by mileage (the odometer passed the last service's reading plus the
    interval, in the vehicle's unit): the rows the planner starts from, in hand-written SQL."""
    found: set[int] = set()
    window_from = (now + timedelta(days=lead_days - 1)).date()
    last_day = (until + timedelta(days=lead_days + 1)).date()
    window_to = last_day + timedelta(days=7 - last_day.isoweekday())
    done = "jc.status IN ('completed', 'closed')"
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, interval_months, interval_miles, interval_km FROM shop_servicetemplate "
                       "WHERE is_active AND (interval_months IS NOT NULL OR interval_miles IS NOT NULL "
                       "OR interval_km IS NOT NULL)")
        for template_id, months, miles, km in cursor.fetchall():
            if months:
                lo = journeys.add_months(window_from, -months) - timedelta(days=1)
                hi = journeys.add_months(window_to, -months) + timedelta(days=2)
                cursor.execute(
                    "SELECT jc.customer_id, jc.vehicle_id, MAX(jc.completed_at) FROM shop_jobline jl "
                    f"JOIN shop_jobcard jc ON jc.id = jl.job_card_id WHERE jl.service_template_id = %s AND {done} "
                    "GROUP BY jc.customer_id, jc.vehicle_id "
                    "HAVING MAX(jc.completed_at) >= %s AND MAX(jc.completed_at) < %s",
                    [template_id, lo, hi])
                found.update(row[0] for row in cursor.fetchall())
            by_unit = {"mi": miles or (round(km / KM_PER_MILE) if km else None),
                       "km": km or (round(miles * KM_PER_MILE) if miles else None)}
            for unit, interval in by_unit.items():
                if not interval:
                    continue
                cursor.execute(
                    "SELECT jc.customer_id FROM shop_jobline jl JOIN shop_jobcard jc ON jc.id = jl.job_card_id "
                    "JOIN shop_vehicle v ON v.id = jc.vehicle_id "
                    f"WHERE jl.service_template_id = %s AND {done} AND v.odometer_unit = %s "
                    "AND jc.odometer_in IS NOT NULL GROUP BY jc.customer_id, jc.vehicle_id "
                    "HAVING MAX(v.odometer) >= MAX(jc.odometer_in) + %s",
                    [template_id, unit, interval])
                found.update(row[0] for row in cursor.fetchall())
    return found


def _planning(ctx: Context) -> list[Result]:
    journeys_by_code = {j.code: j for j in Journey.objects.filter(code__in=["birthday-greeting", "service-reminder"])}
    if len(journeys_by_code) < 2 or not MessageTemplate.objects.exists():
        return []
    now = timezone.now()
    until = now + journeys.PLAN_AHEAD
    results = []

    birthday = journeys_by_code["birthday-greeting"]
    definition = parse_definition(birthday.definition)
    ours_ms, planned = median_ms(lambda: journeys.plan_date_trigger(birthday, definition, now, until), max(3, ctx.repeat // 3))
    raw_ms, raw_ids = median_ms(lambda: _birthday_baseline(now, until), max(3, ctx.repeat // 3))
    # The planner keeps only customers whose local send time falls in the window: a subset.
    ours_ids = {p.customer.pk for p in planned}
    results.append(Result(
        "messaging: plan birthday journey (2 days)", ours_ms, "ms", raw_ms, budget_ratio=4.0,
        note=f"{len(ours_ids)} enrollments from {len(raw_ids)} candidates",
        failed=not ours_ids <= raw_ids,
    ))

    due = journeys_by_code["service-reminder"]
    definition = parse_definition(due.definition)
    lead = definition.trigger.days_before
    ours_ms, planned = median_ms(lambda: journeys.plan_date_trigger(due, definition, now, until), max(3, ctx.repeat // 3))
    raw_ms, raw_ids = median_ms(lambda: _service_due_baseline(now, lead, until), max(3, ctx.repeat // 3))
    ours_ids = {p.customer.pk for p in planned}
    results.append(Result(
        "messaging: plan service-due journey (2 days)", ours_ms, "ms", raw_ms, budget_ratio=4.0,
        note=f"{len(planned)} bundled reminders for {len(ours_ids)} customers ({len(raw_ids)} candidates)",
        failed=not ours_ids <= raw_ids,
    ))
    return results


def run(ctx: Context) -> list[Result]:
    return [_dispatch(ctx), *_planning(ctx)]
