"""Demo and benchmark data: the demo staff accounts and the deterministic history loader.

This is the one place that writes other apps' tables directly: a history of millions of rows
cannot go through one service call per change. It writes exactly the rows (and events) the shop,
visits and loyalty services would have written, and tests hold it to that
(``tests/demo/test_seed.py``, ``tests/demo/test_seed_loyalty.py``).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group, User
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from servicebay.activity.models import Event
from servicebay.core.errors import DomainError
from servicebay.core.roles import Role
from servicebay.loyalty.models import (
    CustomerLoyaltyBalance,
    LoyaltyProgram,
    LoyaltyRuleVersion,
    LoyaltyTransaction,
)
from servicebay.shop.models import (
    Appointment,
    Customer,
    JobCard,
    JobLine,
    Location,
    Note,
    Part,
    ServiceTemplate,
    Vehicle,
)
from servicebay.visits.models import CustomerVisit, VisitRecommendation

from . import catalog, generator, loyalty
from .loader import BulkWriter, TableShape

DEMO_PASSWORD = "servicebay-demo"  # noqa: S105 - documented demo credential, never for production
DEMO_STAFF: tuple[tuple[str, str, str], ...] = (  # username (= role), first name, last name
    (Role.ADVISOR, "Sam", "Ortiz"),
    (Role.TECHNICIAN, "Jordan", "Lee"),
    (Role.MANAGER, "Priya", "Shah"),
    (Role.MARKETING, "Morgan", "Blake"),
    (Role.ADMIN, "Alex", "Kowalski"),
)
CHUNK_CUSTOMERS = 2000
PARALLEL_FROM = 10_000  # customers; below this a child process costs more than it saves
MAX_CUSTOMERS = 5_000_000


class AlreadySeeded(DomainError):
    """The database already holds customers; seeding would mix two histories."""


@dataclass
class SeedReport:
    customers: int
    locations: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    write_seconds: float = 0.0  # inserting and committing the generated rows
    setup_seconds: float = 0.0  # demo logins, shops and catalog
    finish_seconds: float = 0.0  # sequences and planner statistics

    @property
    def generate_seconds(self) -> float:
        return self.seconds - self.write_seconds - self.setup_seconds - self.finish_seconds

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


@transaction.atomic
def demo_users_ensure() -> list[User]:
    """One demo account per role (``admin`` is a superuser), password ``servicebay-demo``.

    Idempotent: existing accounts keep their password; their role group and flags are restored.
    """
    users = []
    for role, first, last in DEMO_STAFF:
        user, created = User.objects.get_or_create(
            username=str(role),
            defaults={"first_name": first, "last_name": last, "email": f"{role}@example.com"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
        user.is_active = True
        user.is_staff = user.is_superuser = role == Role.ADMIN
        user.save()
        user.groups.add(Group.objects.get_or_create(name=role)[0])  # flush empties auth_group
        users.append(user)
    return users


def _staff_ids(*roles: str) -> list[int]:
    return list(
        User.objects.filter(groups__name__in=roles, is_active=True)
        .order_by("id").values_list("id", flat=True).distinct()
    )


def _next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def _ensure_locations(count: int, start: datetime) -> list[generator.ShopLocation]:
    wanted = catalog.location_names(count)
    existing = {loc.name: loc for loc in Location.objects.filter(name__in=[n for n, _ in wanted])}
    next_id = _next_id(Location)
    fresh = []
    for index, (name, city) in enumerate(wanted):
        if name in existing:
            continue
        phone = generator.make_phone(random.Random(index), city)
        fresh.append(Location(
            id=next_id, name=name, time_zone=city.time_zone, currency=city.currency,
            address=f"{100 + 7 * index} {city.street}, {city.name}, {city.region}", phone=phone,
            distance_unit=city.distance_unit, created_at=start - timedelta(days=365),
        ))
        next_id += 1
    for loc in fresh:
        loc.full_clean()
    Location.objects.bulk_create(fresh)
    by_name = {loc.name: loc for loc in [*existing.values(), *fresh]}
    return [
        generator.ShopLocation(
            id=by_name[name].pk, name=name, city=city, zone=ZoneInfo(by_name[name].time_zone),
            next_number=by_name[name].next_job_card_number,
        )
        for name, city in wanted
    ]


def _ensure_catalog() -> tuple[dict[str, generator.Template], dict[str, int], dict[str, Decimal]]:
    templates = {t.code: t for t in ServiceTemplate.objects.filter(code__in=[s.code for s in catalog.SERVICES])}
    next_id = _next_id(ServiceTemplate)
    fresh_templates = []
    for spec in catalog.SERVICES:
        if spec.code in templates:
            continue
        template = ServiceTemplate(
            id=next_id, code=spec.code, name=spec.name, category=spec.category,
            labor_hours=Decimal(spec.labor_hours), price=Decimal(spec.price),
            interval_months=spec.interval_months, interval_miles=spec.interval_miles,
            interval_km=round(spec.interval_miles * 1.609, -3) if spec.interval_miles else None,
        )
        template.full_clean()
        fresh_templates.append(template)
        templates[spec.code] = template
        next_id += 1
    ServiceTemplate.objects.bulk_create(fresh_templates)

    parts = {p.sku: p for p in Part.objects.filter(sku__in=[sku for sku, _, _ in catalog.PARTS])}
    next_id = _next_id(Part)
    fresh_parts = []
    for sku, name, price in catalog.PARTS:
        if sku in parts:
            continue
        part = Part(id=next_id, sku=sku, name=name, price=Decimal(price))
        part.full_clean()
        fresh_parts.append(part)
        parts[sku] = part
        next_id += 1
    Part.objects.bulk_create(fresh_parts)
    specs = {s.code: s for s in catalog.SERVICES}
    return (
        {code: generator.Template(id=t.pk, spec=specs[code]) for code, t in templates.items()},
        {sku: p.pk for sku, p in parts.items()},
        {sku: Decimal(price) for sku, _, price in catalog.PARTS},
    )


def _shapes() -> dict[str, TableShape]:
    return {
        "customer": TableShape(Customer, generator.CUSTOMER_FIELDS),
        "vehicle": TableShape(Vehicle, generator.VEHICLE_FIELDS),
        "appointment": TableShape(Appointment, generator.APPOINTMENT_FIELDS),
        "appointment_service": TableShape(Appointment.services.through, generator.APPOINTMENT_SERVICE_FIELDS),
        "job_card": TableShape(JobCard, generator.JOB_CARD_FIELDS),
        "job_line": TableShape(JobLine, generator.JOB_LINE_FIELDS),
        "visit": TableShape(CustomerVisit, generator.VISIT_FIELDS),
        "visit_recommendation": TableShape(VisitRecommendation, generator.RECOMMENDATION_FIELDS),
        "note": TableShape(Note, generator.NOTE_FIELDS),
        "loyalty_balance": TableShape(CustomerLoyaltyBalance, loyalty.BALANCE_FIELDS),
        "loyalty_transaction": TableShape(LoyaltyTransaction, loyalty.TRANSACTION_FIELDS),
        "event": TableShape(Event, generator.EVENT_FIELDS),
    }


MODELS = {
    "customer": Customer, "vehicle": Vehicle, "appointment": Appointment,
    "appointment_service": Appointment.services.through, "job_card": JobCard, "job_line": JobLine,
    "visit": CustomerVisit, "visit_recommendation": VisitRecommendation, "note": Note,
    "loyalty_balance": CustomerLoyaltyBalance, "loyalty_transaction": LoyaltyTransaction, "event": Event,
}
LEDGER_MODELS = (CustomerLoyaltyBalance, LoyaltyTransaction)


def _produce(history: generator.HistoryGenerator, size: int, queue) -> None:
    """Child process: generate every chunk, then report the job card numbers handed out."""
    try:
        for chunk in history.chunks(size):
            queue.put(("chunk", chunk))
        queue.put(("done", {loc.id: loc.next_number for loc in history.world.locations}))
    except BaseException:  # the parent must hear about any failure, or it waits forever
        queue.put(("error", traceback.format_exc()))


def _generate_aside(
    history: generator.HistoryGenerator, size: int, on_progress: Callable[[int], None] | None
) -> Iterator[generator.Chunk]:
    """Yield chunks generated by a forked child, so generating and writing overlap on two cores."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=3)
    child = context.Process(target=_produce, args=(history, size, queue), daemon=True)
    child.start()
    try:
        while True:
            kind, payload = queue.get()
            if kind == "error":
                raise RuntimeError(f"seed generator failed:\n{payload}")
            if kind == "done":
                for loc in history.world.locations:
                    loc.next_number = payload[loc.id]
                return
            yield payload
            if on_progress is not None:
                on_progress(len(payload.rows["customer"]))
    finally:
        if child.is_alive():
            child.kill()
        child.join()


def demo_seed(
    *,
    customers: int,
    seed: int = 42,
    as_of: datetime | None = None,
    with_users: bool = True,
    allow_existing: bool = False,
    chunk_customers: int = CHUNK_CUSTOMERS,
    on_progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
    restore_style: bool | None = None,
) -> SeedReport:
    """Load ``customers`` customers with five years of shop history, deterministically per seed.

    Refuses (``AlreadySeeded``) when customers exist, unless ``allow_existing`` (benchmarks).
    ``as_of`` is "now" for the data: history ends there, bookings run two weeks past it.
    ``parallel`` generates in a child process while this one writes, ``restore_style`` builds
    PostgreSQL indexes and foreign keys after loading (both default to on for large runs into an
    empty database); the rows are the same either way.
    """
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise DomainError(f"Customers must number between 1 and {MAX_CUSTOMERS:,}.", field="customers")
    if not allow_existing and Customer.objects.exists():
        raise AlreadySeeded("The database already has customers; seed only an empty database.")
    started = time.perf_counter()
    as_of = (as_of or timezone.now()).astimezone(UTC).replace(second=0, microsecond=0)
    history_start = as_of - timedelta(days=generator.HISTORY_DAYS)
    if with_users:
        demo_users_ensure()
    locations = _ensure_locations(generator.location_count(customers), history_start)
    templates, part_ids, part_prices = _ensure_catalog()
    programmes = loyalty.programmes_ensure([loc.city.currency for loc in locations],
                                           history_start - timedelta(days=30))
    world = generator.World(
        locations=locations, templates=templates, part_ids=part_ids, part_prices=part_prices,
        advisor_ids=_staff_ids(Role.ADVISOR, Role.MANAGER), technician_ids=_staff_ids(Role.TECHNICIAN),
        next_ids={table: _next_id(model) for table, model in MODELS.items()},
        as_of=as_of, customers=customers, loyalty=programmes,
    )
    shapes = _shapes()
    writer = BulkWriter()
    setup_seconds = time.perf_counter() - started
    history = generator.HistoryGenerator(world, seed)
    if parallel is None:
        parallel = customers >= PARALLEL_FROM and (os.cpu_count() or 1) > 1
    chunks = _generate_aside(history, chunk_customers, on_progress) if parallel else history.chunks(
        chunk_customers, on_progress
    )
    write_seconds = 0.0
    # Into empty tables, a large load builds indexes (and PG foreign keys) once, at the end.
    if restore_style is None:
        restore_style = not allow_existing and customers >= PARALLEL_FROM
    bulk = writer.without_secondary_structures(MODELS.values()) if restore_style else nullcontext()
    # The ledger's per-row sum triggers (PostgreSQL) would scan without their index: one check instead.
    paused = writer.triggers_paused(LEDGER_MODELS) if restore_style else nullcontext()
    first_balance = world.next_ids["loyalty_balance"]
    with bulk, paused:
        for chunk in chunks:
            chunk_started = time.perf_counter()
            with transaction.atomic():
                for table in generator.TABLES:
                    writer.write(shapes[table], chunk.rows[table],
                                 txid_column="txid" if table == "event" else None)
            write_seconds += time.perf_counter() - chunk_started  # commit (and FK checks) included
        bulk_started = time.perf_counter()
        if restore_style:
            loyalty.ledger_sums_check(first_balance)
    write_seconds += time.perf_counter() - bulk_started  # index builds and FK validation
    with transaction.atomic():
        for loc in locations:
            Location.objects.filter(pk=loc.id).update(next_job_card_number=loc.next_number)
    finish_started = time.perf_counter()
    writer.finish([Location, ServiceTemplate, Part, LoyaltyProgram, LoyaltyRuleVersion, *MODELS.values()])
    return SeedReport(
        customers=customers, locations=len(locations),
        rows={table: writer.stats.rows.get(shapes[table].table, 0) for table in generator.TABLES},
        seconds=time.perf_counter() - started, write_seconds=write_seconds,
        setup_seconds=setup_seconds, finish_seconds=time.perf_counter() - finish_started,
    )
