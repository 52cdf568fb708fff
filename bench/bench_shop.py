"""Shop core: customer search through ``selectors.customer_search`` against hand-written SQL, and
the seed loader's throughput against the raw bulk load (executemany / COPY) of the same rows.

The SQL baseline returns the same page as the selector (checked on every run) but is written the
way a careful engineer would: one indexable branch per condition joined by UNION, and prefix
matches as ranges (``>= 'smi' AND < 'smj'``), which both SQLite and PostgreSQL answer from an
index — unlike ``LIKE`` on SQLite, or an ``OR`` across a join.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from bench.core import Context, Result, median_ms
from servicebay.demo.services import demo_seed
from servicebay.shop.models import Customer, Vehicle
from servicebay.shop.selectors import customer_search
from servicebay.shop.validators import normalize_phone

PAGE = 25
SEARCH_BUDGET_MS = 50.0  # DESIGN §5: under 50 ms at a million customers
SEARCH_RATIO = 2.0
SEED_RATIO = 4.0
SEED_SAMPLE = 2000

COLUMNS = (
    "c.id, c.first_name, c.last_name, c.phone, c.email, c.birthday, c.preferred_channel, "
    "c.language, c.time_zone, c.home_location_id, c.created_at, c.updated_at, "
    "l.id, l.name, l.time_zone, l.currency, l.address, l.phone, l.distance_unit, "
    "l.quiet_hours_start, l.quiet_hours_end, l.next_job_card_number, l.created_at"
)


def _range(prefix: str) -> tuple[str, str]:
    """[prefix, next) — the index range of a prefix match, valid under binary (C) collation."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _raw_page(where: str, params: list) -> list[int]:
    sql = (
        f"SELECT {COLUMNS} FROM shop_customer c "
        "LEFT JOIN shop_location l ON l.id = c.home_location_id "
        f"WHERE c.id IN ({where}) ORDER BY c.last_name, c.first_name, c.id LIMIT {PAGE}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def raw_search(kind: str, query: str) -> list[int]:
    """What a careful engineer would write by hand for each branch of ``customer_search``."""
    lowered = " ".join(query.split()).lower()
    if kind == "email":
        lo, hi = _range(lowered)
        return _raw_page("SELECT id FROM shop_customer WHERE lower(email) >= %s AND lower(email) < %s",
                         [lo, hi])
    if kind == "vin":
        # Repeating the partial unique index's condition lets SQLite use that index.
        return _raw_page("SELECT customer_id FROM shop_vehicle WHERE vin = %s AND NOT (vin = '')",
                         [query.replace(" ", "").replace("-", "").upper()])
    if kind == "phone":
        try:
            return _raw_page("SELECT id FROM shop_customer WHERE phone = %s", [normalize_phone(query)])
        except ValidationError:
            digits = re.sub(r"\D", "", query)[-10:]
            return _raw_page("SELECT id FROM shop_customer WHERE phone LIKE %s", [f"%{digits}"])
    compact = query.replace(" ", "").replace("-", "").upper()
    branches = ["SELECT customer_id FROM shop_vehicle WHERE plate >= %s AND plate < %s"]
    params = list(_range(compact))
    parts = lowered.split(" ")
    if len(parts) >= 2:
        first, rest = parts[0], " ".join(parts[1:])
        for a, b in ((first, rest), (rest, first)):
            branches.append(
                "SELECT id FROM shop_customer WHERE lower(first_name) >= %s AND lower(first_name) < %s "
                "AND lower(last_name) >= %s AND lower(last_name) < %s"
            )
            params += [*_range(a), *_range(b)]
    else:
        for column in ("last_name", "first_name"):
            branches.append(f"SELECT id FROM shop_customer WHERE lower({column}) >= %s AND lower({column}) < %s")
            params += list(_range(lowered))
    return _raw_page(" UNION ".join(branches), params)


def orm_search(query: str) -> list[int]:
    return [c.pk for c in customer_search(query=query)[:PAGE]]


def search_terms() -> list[tuple[str, str]]:
    """Real values from the middle of the data set, so every query has matches."""
    total = Customer.objects.count()
    customer = Customer.objects.exclude(phone="").exclude(email="").order_by("pk")[total // 2]
    vehicle = Vehicle.objects.exclude(vin="").order_by("pk")[Vehicle.objects.count() // 2]
    digits = customer.phone[-10:]
    return [
        ("name prefix", customer.last_name[:3].lower()),
        ("first and last name", f"{customer.first_name} {customer.last_name[:2]}"),
        ("phone", f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if customer.phone.startswith("+1") else customer.phone),
        ("email", customer.email),
        ("plate", vehicle.plate),
        ("VIN", vehicle.vin),
    ]


def search_results(ctx: Context) -> list[Result]:
    results = []
    for label, query in search_terms():
        kind = {"phone": "phone", "email": "email", "VIN": "vin"}.get(label, "name")
        orm_ms, orm_ids = median_ms(lambda q=query: orm_search(q), ctx.repeat)
        raw_ms, raw_ids = median_ms(lambda k=kind, q=query: raw_search(k, q), ctx.repeat)
        same = orm_ids == raw_ids
        results.append(Result(
            metric=f"customer search: {label}", value=orm_ms, unit="ms", baseline=raw_ms,
            budget_ratio=SEARCH_RATIO, budget_abs=SEARCH_BUDGET_MS,
            note=f"{query!r}, {len(orm_ids)} rows" + ("" if same else "; ROWS DIFFER from raw SQL"),
            failed=not same,
        ))
    return results


def seed_result(ctx: Context) -> Result:
    """Throughput of the whole seed (generate + load) vs loading the same rows alone."""
    report = ctx.seed_report
    note = f"full seed of {ctx.customers:,} customers"
    if report is None:
        # Seed a sample into the benchmark database and roll it back: same indexes, same size.
        sample = min(SEED_SAMPLE, ctx.customers)
        note = f"{sample:,}-customer sample, rolled back"
        with transaction.atomic():
            report = demo_seed(customers=sample, seed=7, with_users=False, allow_existing=True)
            transaction.set_rollback(True)
    work = report.seconds - report.setup_seconds - report.finish_seconds
    return Result(
        metric="seed throughput", value=report.total_rows / work, unit="rows/s",
        baseline=report.total_rows / report.write_seconds, budget_ratio=SEED_RATIO,
        higher_is_better=True, note=f"{note}, {report.total_rows:,} rows",
    )


def run(ctx: Context) -> list[Result]:
    return [*search_results(ctx), seed_result(ctx)]
