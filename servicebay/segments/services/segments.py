"""Saved segments: create, change, count, snapshot (dynamic and CSV-imported static), schedule."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from servicebay.activity.services import record
from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError, InvalidTransition
from servicebay.shop.models import Customer
from servicebay.shop.validators import normalize_phone

from ..choices import SegmentKind, SnapshotSource
from ..compiler import members_queryset
from ..dsl import FILTER_VERSION, filter_dump, parse_filter
from ..models import Segment, SegmentCount, SegmentMember, SegmentSnapshot

MAX_IMPORT_ROWS = 200_000
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _clean_text(*, name: str, description: str) -> tuple[str, str]:
    name = (name or "").strip()
    if not name:
        raise DomainError("A segment needs a name.", field="name")
    if len(name) > 120:
        raise DomainError("A name can be at most 120 characters.", field="name")
    description = (description or "").strip()[:5000]
    for which, text in (("name", name), ("description", description)):
        if "\x00" in text:  # PostgreSQL cannot store it; refused alike on SQLite
            raise DomainError("Null characters are not allowed.", field=which)
    return name, description


def _check_schedule(every_hours: int | None) -> None:
    if every_hours is not None and not 1 <= every_hours <= 24 * 31:
        raise DomainError("Re-snapshot between every hour and every 31 days.",
                          field="snapshot_every_hours")


@transaction.atomic
def segment_create(
    *,
    actor: Actor,
    name: str,
    filter: Any,
    description: str = "",
    snapshot_every_hours: int | None = None,
    now: datetime | None = None,
) -> Segment:
    """Save a dynamic segment; the filter is validated and stored in its canonical form."""
    name, description = _clean_text(name=name, description=description)
    parsed = parse_filter(filter)
    _check_schedule(snapshot_every_hours)
    now = now or timezone.now()
    segment = Segment.objects.create(
        name=name, description=description, kind=SegmentKind.DYNAMIC, filter=filter_dump(parsed),
        filter_version=1, owner=actor.user, snapshot_every_hours=snapshot_every_hours,
        next_snapshot_at=now + timedelta(hours=snapshot_every_hours) if snapshot_every_hours else None,
    )
    segment_count(segment=segment, as_of=now)
    record("segment.created", actor=actor, subject=segment, payload={"name": name})
    return segment


@transaction.atomic
def segment_update(
    *,
    segment: Segment,
    actor: Actor,
    name: str | None = None,
    description: str | None = None,
    filter: Any = None,
    snapshot_every_hours: int | type[Ellipsis] | None = ...,
    now: datetime | None = None,
) -> Segment:
    """Change a segment; a changed filter bumps ``filter_version`` (old snapshots keep theirs)."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.archived_at is not None:
        raise InvalidTransition("An archived segment cannot be changed.", field="name")
    now = now or timezone.now()
    changed: list[str] = []
    new_name, new_description = _clean_text(
        name=segment.name if name is None else name,
        description=segment.description if description is None else description,
    )
    if (new_name, new_description) != (segment.name, segment.description):
        segment.name, segment.description = new_name, new_description
        changed.append("name")
    if filter is not None:
        if not segment.is_dynamic:
            raise InvalidTransition("A static segment has no filter; import a new list instead.",
                                    field="filter")
        canonical = filter_dump(parse_filter(filter))
        if canonical != segment.filter:
            segment.filter = canonical
            segment.filter_version += 1
            changed.append("filter")
    if snapshot_every_hours is not ...:
        _check_schedule(snapshot_every_hours)
        if snapshot_every_hours != segment.snapshot_every_hours:
            segment.snapshot_every_hours = snapshot_every_hours
            segment.next_snapshot_at = (
                now + timedelta(hours=snapshot_every_hours) if snapshot_every_hours else None
            )
            changed.append("schedule")
    if not changed:
        return segment
    segment.save()
    if "filter" in changed:
        segment_count(segment=segment, as_of=now)
    record("segment.updated", actor=actor, subject=segment, payload={"changed": changed})
    return segment


@transaction.atomic
def segment_archive(*, segment: Segment, actor: Actor) -> Segment:
    """Hide a segment and stop its schedule; snapshots and export logs stay for the audit."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.archived_at is None:
        segment.archived_at = timezone.now()
        segment.next_snapshot_at = None
        segment.save(update_fields=["archived_at", "next_snapshot_at", "updated_at"])
        record("segment.archived", actor=actor, subject=segment)
    return segment


@transaction.atomic
def segment_count(*, segment: Segment, as_of: datetime | None = None) -> SegmentCount:
    """Count a dynamic segment's members now (or at ``as_of``) and add it to the count history."""
    as_of = as_of or timezone.now()
    if segment.is_dynamic:
        count = members_queryset(parse_filter(segment.filter), as_of=as_of).count()
    else:
        latest = segment.snapshots.order_by("-taken_at", "-id").first()
        count = latest.member_count if latest else 0
    point = SegmentCount.objects.create(segment=segment, as_of=as_of, count=count)
    Segment.objects.filter(pk=segment.pk).update(last_count=count, last_counted_at=point.counted_at)
    segment.last_count, segment.last_counted_at = count, point.counted_at
    return point


def _insert_members(snapshot: SegmentSnapshot, queryset) -> int:
    """INSERT … SELECT the matching customer ids into the snapshot, inside the database.

    The SELECT is the ORM's own compiled, parameterised query; only fixed table and column names
    are added around it, so no value ever becomes SQL text.
    """
    select_sql, params = queryset.values_list("pk", flat=True).query.sql_with_params()
    table = connection.ops.quote_name(SegmentMember._meta.db_table)
    sql = (
        f"INSERT INTO {table} (customer_id, snapshot_id) "  # noqa: S608 - fixed identifiers only
        f"SELECT matched.*, %s FROM ({select_sql}) matched"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [snapshot.pk, *params])
        return cursor.rowcount


@transaction.atomic
def snapshot_take(
    *,
    segment: Segment,
    actor: Actor,
    as_of: datetime | None = None,
    source: str = SnapshotSource.MANUAL,
) -> SegmentSnapshot:
    """Freeze a dynamic segment's current members into a new immutable snapshot."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if not segment.is_dynamic:
        raise InvalidTransition("A static segment is its import; upload a new list to change it.",
                                field="segment")
    if segment.archived_at is not None:
        raise InvalidTransition("An archived segment takes no snapshots.", field="segment")
    as_of = as_of or timezone.now()
    parsed = parse_filter(segment.filter)
    snapshot = SegmentSnapshot.objects.create(
        segment=segment, as_of=as_of, filter=segment.filter, filter_version=segment.filter_version,
        source=source, taken_by=actor.label,
    )
    snapshot.member_count = _insert_members(snapshot, members_queryset(parsed, as_of=as_of))
    snapshot.save(update_fields=["member_count"])
    point = SegmentCount.objects.create(segment=segment, as_of=as_of, count=snapshot.member_count)
    updates: dict[str, Any] = {"last_count": snapshot.member_count, "last_counted_at": point.counted_at}
    if segment.snapshot_every_hours:
        updates["next_snapshot_at"] = as_of + timedelta(hours=segment.snapshot_every_hours)
    Segment.objects.filter(pk=segment.pk).update(**updates)
    record("segment.snapshot_taken", actor=actor, subject=snapshot,
           payload={"segment": segment.pk, "members": snapshot.member_count, "source": source})
    return snapshot


def snapshots_take_due(*, actor: Actor, now: datetime | None = None, limit: int = 20) -> list[int]:
    """Snapshot the dynamic segments whose schedule is due; safe to run in several workers.

    Each segment is claimed with ``FOR UPDATE SKIP LOCKED`` and its next time moved in the same
    transaction as the snapshot, so two workers never snapshot the same segment twice.
    """
    now = now or timezone.now()
    taken: list[int] = []
    for _ in range(limit):
        with transaction.atomic():
            segment = (
                Segment.objects.select_for_update(skip_locked=True)
                .filter(kind=SegmentKind.DYNAMIC, archived_at__isnull=True,
                        next_snapshot_at__lte=now)
                .order_by("next_snapshot_at", "id")
                .first()
            )
            if segment is None:
                break
            snapshot = snapshot_take(segment=segment, actor=actor, as_of=now,
                                     source=SnapshotSource.SCHEDULE)
            taken.append(snapshot.pk)
    return taken


@dataclass
class ImportReport:
    segment: Segment
    snapshot: SegmentSnapshot
    rows: int
    matched: int
    unmatched: list[tuple[int, str]] = field(default_factory=list)  # (line, value), first 50


def _import_keys(data: bytes) -> tuple[str, list[tuple[int, str]]]:
    if len(data) > MAX_IMPORT_BYTES:
        raise DomainError("The file is larger than 20 MB.", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError("The file must be UTF-8 encoded CSV.", field="file") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    for column in ("customer_id", "email", "phone_number", "phone"):
        if column in header:
            index = header.index(column)
            break
    else:
        raise DomainError("The CSV needs a customer_id, email or phone_number column.", field="file")
    values: list[tuple[int, str]] = []
    for line, row in enumerate(reader, start=2):
        if len(values) >= MAX_IMPORT_ROWS:
            raise DomainError(f"At most {MAX_IMPORT_ROWS:,} rows per import.", field="file")
        if index < len(row) and row[index].strip():
            values.append((line, row[index].strip()))
    return column, values


def _match(column: str, values: list[tuple[int, str]]) -> tuple[set[int], list[tuple[int, str]]]:
    """Customer ids for the imported keys, and the lines that matched nobody."""
    lookup: dict[str, str] = {}
    for _, raw in values:
        if column == "customer_id":
            key = raw if raw.isdigit() else ""
        elif column == "email":
            key = raw.lower()
        else:
            try:
                key = normalize_phone(raw)
            except ValidationError:
                key = ""  # an unparsable number simply matches nobody
        lookup[raw] = key
    keys = sorted({k for k in lookup.values() if k})
    field_name = {"customer_id": "pk", "email": "email", "phone_number": "phone", "phone": "phone"}[column]
    found: dict[str, int] = {}
    for start in range(0, len(keys), 5000):
        chunk = keys[start:start + 5000]
        if field_name == "pk":
            chunk = [int(k) for k in chunk]
        for pk, value in Customer.objects.filter(**{f"{field_name}__in": chunk}).values_list(
            "pk", field_name
        ):
            found[str(value).lower() if field_name == "email" else str(value)] = pk
    ids: set[int] = set()
    unmatched: list[tuple[int, str]] = []
    for line, raw in values:
        pk = found.get(lookup[raw])
        if pk is None:
            unmatched.append((line, raw))
        else:
            ids.add(pk)
    return ids, unmatched


@transaction.atomic
def segment_import_static(
    *, actor: Actor, name: str, data: bytes, description: str = ""
) -> ImportReport:
    """Create a static segment from a CSV of customer ids, emails or phone numbers."""
    name, description = _clean_text(name=name, description=description)
    column, values = _import_keys(data)
    if not values:
        raise DomainError("The CSV has no rows.", field="file")
    ids, unmatched = _match(column, values)
    now = timezone.now()
    segment = Segment.objects.create(
        name=name, description=description, kind=SegmentKind.STATIC, filter={}, owner=actor.user,
    )
    snapshot = SegmentSnapshot.objects.create(
        segment=segment, as_of=now, filter={}, filter_version=FILTER_VERSION,
        source=SnapshotSource.IMPORT, taken_by=actor.label, member_count=len(ids),
    )
    SegmentMember.objects.bulk_create(
        [SegmentMember(snapshot=snapshot, customer_id=pk) for pk in sorted(ids)], batch_size=5000
    )
    point = SegmentCount.objects.create(segment=segment, as_of=now, count=len(ids))
    Segment.objects.filter(pk=segment.pk).update(last_count=len(ids), last_counted_at=point.counted_at)
    record("segment.imported", actor=actor, subject=segment,
           payload={"rows": len(values), "matched": len(ids), "unmatched": len(unmatched)})
    return ImportReport(segment=segment, snapshot=snapshot, rows=len(values), matched=len(ids),
                        unmatched=unmatched[:50])
