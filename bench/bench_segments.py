"""Segments: live count through the DSL compiler against hand-written SQL of the same filter, and
the streamed export (rows/s, peak memory) against ``COPY … TO STDOUT`` (PostgreSQL) or a raw
cursor writing CSV (SQLite)."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from bench.core import Context, Result, median_ms
from servicebay.core.actors import Actor
from servicebay.segments import services
from servicebay.segments.compiler import members_queryset
from servicebay.segments.dsl import parse_filter
from servicebay.segments.models import CustomerStats, ExportLog, Segment
from servicebay.shop.models import Customer

COUNT_RATIO = 1.5  # DESIGN §5: within 1.5x hand-written SQL
EXPORT_RATIO = 3.0  # at least a third of COPY speed
EXPORT_MEMORY_MB = 64.0
BENCH = Actor.system("bench")


def _ensure_stats() -> str:
    """Seeds bulk-load rows without signals: rebuild the aggregates the filters read."""
    have, want = CustomerStats.objects.count(), Customer.objects.count()
    if have >= want:
        return ""
    started = time.perf_counter()
    services.customer_stats_rebuild()
    return f"rebuilt stats for {want:,} customers in {time.perf_counter() - started:.1f} s"


def _ensure_consent() -> bool:
    """Email marketing opt-ins for two customers in three, unless the seed brought consent.

    Returns whether rows were added (``_cleanup`` removes them: the database is shared).
    """
    from django.apps import apps

    record = apps.get_model("messaging", "ConsentRecord")
    if record.objects.exists():
        return False
    table = connection.ops.quote_name(record._meta.db_table)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, channel, purpose, granted, source, address, note, "
            "actor, recorded_at) SELECT id, 'email', 'marketing', %s, 'import', email, '', "
            "'bench', %s FROM shop_customer WHERE id %% 3 <> 0 AND email <> ''",
            [True, now],
        )
    return True


def _cleanup(added_consent: bool) -> None:
    """Leave the shared benchmark database as we found it (the stats rows stay: they are derived)."""
    from django.apps import apps

    ExportLog.objects.filter(actor="bench").delete()
    Segment.objects.filter(name="bench: everyone").delete()
    if added_consent:
        apps.get_model("messaging", "ConsentRecord").objects.filter(actor="bench").delete()


def _count_cases(as_of):
    year_ago = as_of - timedelta(days=365)
    return [
        ("big spenders", {"field": "lifetime_spend", "op": "gte", "value": "1000"},
         "SELECT COUNT(*) FROM shop_customer c JOIN segments_customerstats s ON s.customer_id = c.id "
         "WHERE s.lifetime_spend >= %s", ["1000"]),
        ("lapsed regulars",
         {"all": [{"field": "visit_count", "op": "gte", "value": 3},
                  {"field": "last_visit", "op": "not_within_days", "value": 365}]},
         "SELECT COUNT(*) FROM shop_customer c JOIN segments_customerstats s ON s.customer_id = c.id "
         "WHERE s.visit_count >= %s AND s.last_visit_at < %s", [3, year_ago]),
        ("Toyota owners who spent 500+",
         {"all": [{"field": "vehicle", "make": "Toyota"},
                  {"field": "lifetime_spend", "op": "gte", "value": "500"}]},
         "SELECT COUNT(*) FROM shop_customer c JOIN segments_customerstats s ON s.customer_id = c.id "
         "WHERE s.lifetime_spend >= %s AND EXISTS (SELECT 1 FROM shop_vehicle v "
         "WHERE v.customer_id = c.id AND UPPER(v.make) = UPPER(%s))", ["500", "Toyota"]),
    ]


def _raw_count(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _count_results(ctx: Context, as_of) -> list[Result]:
    results = []
    for name, root, sql, params in _count_cases(as_of):
        f = parse_filter({"version": 1, "root": root})
        ours_ms, ours = median_ms(lambda f=f: members_queryset(f, as_of=as_of).count(), ctx.repeat)
        raw_ms, raw = median_ms(lambda sql=sql, params=params: _raw_count(sql, params), ctx.repeat)
        results.append(Result(
            metric=f"segment count: {name}", value=ours_ms, unit="ms", baseline=raw_ms,
            budget_ratio=COUNT_RATIO, note=f"{ours:,} members" if ours == raw else
            f"MISMATCH {ours:,} vs {raw:,}", failed=ours != raw,
        ))
    return results


def _drain_export(req, *, trace_memory: bool = False) -> tuple[int, float, float]:
    """(bytes, seconds, peak MiB) of streaming the whole export.

    Memory is traced in a separate run: tracemalloc slows every allocation several times over.
    """
    log = services.export_log_start(req=req, fmt="csv", actor_label="bench")
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    size = 0
    for chunk in services.export_stream(req, fmt="csv", log=log):
        size += len(chunk)
    seconds = time.perf_counter() - started
    peak = 0.0
    if trace_memory:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return size, seconds, peak


def _baseline_export(req) -> tuple[int, float]:
    """The same rows straight out of the database: COPY on PostgreSQL, a raw cursor on SQLite."""
    qs = services.exports.export_members(req).values_list("pk", "email", "first_name", "last_name")
    sql, params = qs.query.sql_with_params()
    started = time.perf_counter()
    size = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT CSV, HEADER)", params) as copy:
                for chunk in copy:
                    size += len(chunk)
    else:
        out = io.StringIO()
        writer = csv.writer(out)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(5000):
                writer.writerows(rows)
                size += len(out.getvalue())
                out.seek(0)
                out.truncate()
    return size, time.perf_counter() - started


def _export_results(ctx: Context) -> list[Result]:
    segment = Segment.objects.filter(name="bench: everyone").first() or services.segment_create(
        actor=BENCH, name="bench: everyone",
        filter={"version": 1, "root": {"field": "created", "op": "before", "value": "2999-01-01"}},
    )
    services.snapshot_take(segment=segment, actor=BENCH)
    req = services.export_prepare(segment=segment, channel="email", purpose="marketing",
                                  fields=["customer_id", "email", "first_name", "last_name"],
                                  pii_allowed=True)
    rows = services.exports.export_members(req).count()
    runs = max(3, ctx.repeat // 5)
    ours = min((_drain_export(req) for _ in range(runs)), key=lambda r: r[1])
    base = min((_baseline_export(req) for _ in range(runs)), key=lambda r: r[1])
    streamed, _, peak = _drain_export(req, trace_memory=True)
    label = "COPY TO STDOUT" if connection.vendor == "postgresql" else "raw cursor + csv"
    return [
        Result(metric=f"export CSV throughput vs {label}", value=rows / ours[1], unit="rows/s",
               baseline=rows / base[1], budget_ratio=EXPORT_RATIO, higher_is_better=True,
               note=f"{rows:,} consenting rows"),
        Result(metric="export CSV peak Python memory", value=peak, unit="MiB",
               baseline=EXPORT_MEMORY_MB, budget_ratio=1.0, budget_abs=EXPORT_MEMORY_MB,
               note=f"{rows:,} rows, {streamed / 2**20:.1f} MiB of CSV streamed"),
    ]


def run(ctx: Context) -> list[Result]:
    note = _ensure_stats()
    if note:
        print(note)
    as_of = timezone.now()
    added_consent = _ensure_consent()
    try:
        return [*_count_results(ctx, as_of), *_export_results(ctx)]
    finally:
        _cleanup(added_consent)
