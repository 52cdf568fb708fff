"""Consent-safe exports of a snapshot's members: JSON pages, streamed CSV and NDJSON.

Every export asks for a channel and a purpose and only ever reads the members that
``contactable_q`` allows for that pair *at read time*, so an opt-out takes effect immediately,
even in the middle of a paginated export. There is no parameter that lifts the filter. Each
export is written to ``ExportLog`` (who, segment, snapshot, filter, fields, rows).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from servicebay.core.errors import Conflict, DomainError, PermissionDenied
from servicebay.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from servicebay.shop.models import Customer

from ..choices import ContactChannel, ContactPurpose, ExportFormat, ExportStatus
from ..consent import contactable_q
from ..models import ExportLog, Segment, SegmentMember, SegmentSnapshot

CSV_CHUNK_ROWS = 2000
ITERATOR_CHUNK = 2000
MAX_PAGE = 1000


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest() if value else ""


def _iso(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


@dataclass(frozen=True)
class ExportField:
    """One export column: the customer columns it reads and how it renders them."""

    name: str
    columns: tuple[str, ...]
    render: Callable[..., Any]
    pii: bool = False
    description: str = ""


def _text(v: Any) -> str:
    return v or ""


def _money(v: Decimal | None) -> str:
    return str(v if v is not None else Decimal("0.00"))


# Column names are the ones Klaviyo's and Mailchimp's importers map without help; HubSpot maps
# them by label (see docs/export.md). Order here is the default column order.
FIELDS: dict[str, ExportField] = {f.name: f for f in [
    ExportField("customer_id", ("pk",), lambda v: v, description="ServiceBay customer id"),
    ExportField("email", ("email",), _text, pii=True, description="email address (needs pii)"),
    ExportField("email_sha256", ("email",), lambda v: sha256_hex((v or "").strip().lower()),
                description="SHA-256 of the trimmed, lower-cased email"),
    ExportField("phone_number", ("phone",), _text, pii=True,
                description="E.164 phone number (needs pii)"),
    ExportField("phone_sha256", ("phone",), lambda v: sha256_hex(v or ""),
                description="SHA-256 of the E.164 phone number"),
    ExportField("first_name", ("first_name",), _text),
    ExportField("last_name", ("last_name",), _text),
    ExportField("birthday", ("birthday",), _iso, description="YYYY-MM-DD"),
    ExportField("language", ("language",), _text),
    ExportField("time_zone", ("time_zone",), _text),
    ExportField("location", ("home_location__name",), _text, description="home location name"),
    ExportField("customer_since", ("created_at",), _iso),
    ExportField("lifetime_spend", ("stats__lifetime_spend",), _money),
    ExportField("visit_count", ("stats__visit_count",), lambda v: v or 0),
    ExportField("last_visit_at", ("stats__last_visit_at",), _iso),
    ExportField("loyalty_tier", ("stats__loyalty_tier",), _text),
    ExportField("loyalty_points", ("stats__loyalty_points",), lambda v: v or 0),
]}

# Header names per marketing tool, where its importer's own labels differ from ours.
HEADER_STYLES: dict[str, dict[str, str]] = {
    "standard": {},
    "mailchimp": {"email": "Email Address", "first_name": "First Name", "last_name": "Last Name",
                  "phone_number": "Phone Number", "birthday": "Birthday"},
    "klaviyo": {"email": "Email", "first_name": "First Name", "last_name": "Last Name",
                "phone_number": "Phone Number", "birthday": "Birthday"},
    "hubspot": {"email": "Email", "first_name": "First Name", "last_name": "Last Name",
                "phone_number": "Phone Number"},
}


@dataclass(frozen=True)
class ExportRequest:
    """A validated export: what, for whom, on which consent basis."""

    segment: Segment
    snapshot: SegmentSnapshot
    channel: str
    purpose: str
    fields: tuple[str, ...]
    pii: bool
    header_style: str = "standard"


def default_fields(channel: str, pii: bool) -> tuple[str, ...]:
    if channel == ContactChannel.EMAIL:
        contact = "email" if pii else "email_sha256"
    else:
        contact = "phone_number" if pii else "phone_sha256"
    # The contact column first: Klaviyo's importer wants email / phone number in column one.
    return (contact, "first_name", "last_name", "customer_id")


def export_prepare(
    *,
    segment: Segment,
    channel: str,
    purpose: str,
    fields: list[str] | None,
    pii_allowed: bool,
    snapshot_id: int | None = None,
    header_style: str = "standard",
) -> ExportRequest:
    """Check an export request; raises 422 for bad input and 403 for PII without the scope."""
    if channel not in ContactChannel.values:
        raise DomainError(f"channel must be one of {', '.join(ContactChannel.values)}.", field="channel")
    if purpose not in ContactPurpose.values:
        raise DomainError(f"purpose must be one of {', '.join(ContactPurpose.values)}.", field="purpose")
    if header_style not in HEADER_STYLES:
        raise DomainError(f"header must be one of {', '.join(HEADER_STYLES)}.", field="header")
    if fields:
        unknown = [f for f in fields if f not in FIELDS]
        if unknown:
            raise DomainError(f"Unknown field {unknown[0]!r}; choose from {', '.join(FIELDS)}.",
                              field="fields")
        chosen = tuple(dict.fromkeys(fields))
    else:
        chosen = default_fields(channel, pii_allowed)
    raw = [f for f in chosen if FIELDS[f].pii]
    if raw and not pii_allowed:
        raise PermissionDenied(
            f"Raw {' and '.join(raw)} needs the 'pii' scope; export email_sha256 / phone_sha256 "
            "instead.",
            field="fields",
        )
    snapshots = segment.snapshots.all()
    if snapshot_id is not None:
        snapshot = snapshots.filter(pk=snapshot_id).first()
        if snapshot is None:
            raise DomainError(f"Segment {segment.pk} has no snapshot {snapshot_id}.", field="snapshot_id")
    else:
        snapshot = snapshots.order_by("-taken_at", "-id").first()
        if snapshot is None:
            raise Conflict("This segment has no snapshot yet; take one first.", field="snapshot_id")
    return ExportRequest(segment=segment, snapshot=snapshot, channel=channel, purpose=purpose,
                         fields=chosen, pii=bool(raw), header_style=header_style)


def export_members(req: ExportRequest, *, at: datetime | None = None) -> QuerySet[Customer]:
    """The snapshot's members that may be contacted on the request's channel and purpose now."""
    at = at or timezone.now()
    in_snapshot = SegmentMember.objects.filter(snapshot_id=req.snapshot.pk, customer_id=OuterRef("pk"))
    return (
        Customer.objects.filter(Exists(in_snapshot))
        .filter(contactable_q(channel=req.channel, purpose=req.purpose, at=at))
        .order_by("pk")
    )


def _columns(req: ExportRequest) -> list[str]:
    """The customer columns to read; the key comes first (the keyset cursor is built from it)."""
    cols: list[str] = ["pk"]
    for name in req.fields:
        for col in FIELDS[name].columns:
            if col not in cols:
                cols.append(col)
    return cols


def _renderer(req: ExportRequest) -> Callable[[tuple], list]:
    cols = _columns(req)
    plan = [(FIELDS[n].render, [cols.index(c) for c in FIELDS[n].columns]) for n in req.fields]

    def render(row: tuple) -> list:
        return [fn(*(row[i] for i in idx)) for fn, idx in plan]

    return render


def header_names(req: ExportRequest) -> list[str]:
    names = HEADER_STYLES[req.header_style]
    return [names.get(f, f) for f in req.fields]


@transaction.atomic
def export_log_start(*, req: ExportRequest, fmt: str, actor_label: str, api_key=None,
                     user=None) -> ExportLog:
    """Open the log row of an export before the first row leaves."""
    return ExportLog.objects.create(
        segment=req.segment, snapshot=req.snapshot, api_key=api_key,
        user=user if getattr(user, "pk", None) else None, actor=actor_label,
        filter=req.snapshot.filter, fields=list(req.fields), format=fmt, channel=req.channel,
        purpose=req.purpose, pii=req.pii, rows=0, status=ExportStatus.STREAMING,
    )


def export_log_finish(*, log: ExportLog, rows: int, completed: bool) -> None:
    """Close the log row with the number of rows that actually left."""
    ExportLog.objects.filter(pk=log.pk).update(
        rows=rows, status=ExportStatus.COMPLETED if completed else ExportStatus.ABORTED,
        finished_at=timezone.now(),
    )


# --- JSON pages ----------------------------------------------------------------------------------


def _cursor_scope(req: ExportRequest) -> str:
    return f"segment-members:{req.segment.pk}:{req.channel}:{req.purpose}"


def snapshot_from_cursor(segment: Segment, cursor: str, channel: str, purpose: str) -> tuple[int, int]:
    """(snapshot id, last customer id) a cursor pins; a cursor never moves to another snapshot."""
    values = decode_cursor(cursor, f"segment-members:{segment.pk}:{channel}:{purpose}")
    if len(values) != 2 or not all(isinstance(v, int) for v in values):
        raise InvalidCursor()
    return values[0], values[1]


def export_page(req: ExportRequest, *, after: int | None, limit: int) -> tuple[list[dict], str | None]:
    """One keyset page of members (ordered by customer id) and the cursor of the next one."""
    limit = max(1, min(limit, MAX_PAGE))
    qs = export_members(req)
    if after is not None:
        qs = qs.filter(pk__gt=after)
    rows = list(qs.values_list(*_columns(req))[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    render = _renderer(req)
    items = [dict(zip(req.fields, render(row), strict=True)) for row in rows]
    next_cursor = encode_cursor([req.snapshot.pk, rows[-1][0]], _cursor_scope(req)) if more else None
    return items, next_cursor


# --- streaming -----------------------------------------------------------------------------------

_FORMULA_START = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def csv_safe(value: Any) -> Any:
    """Neutralise a cell a spreadsheet would run as a formula (OWASP CSV injection).

    A text cell starting with = + - @ (or tab / CR) gets a leading apostrophe; plain signed
    numbers such as E.164 phones ("+1312…") and negative amounts stay as they are.
    """
    if (isinstance(value, str) and value and value[0] in _FORMULA_START
            and not _PLAIN_NUMBER.match(value)):
        return "'" + value
    return value


def _stream(req: ExportRequest, log: ExportLog, encode: Callable[[list[list]], str],
            header: str | None) -> Iterator[bytes]:
    """Yield the export in chunks of ``CSV_CHUNK_ROWS`` rows; close the log however it ends."""
    rows = 0
    completed = False
    try:
        if header is not None:
            yield header.encode()
        render = _renderer(req)
        batch: list[list] = []
        for row in export_members(req).values_list(*_columns(req)).iterator(chunk_size=ITERATOR_CHUNK):
            batch.append(render(row))
            if len(batch) >= CSV_CHUNK_ROWS:
                yield encode(batch).encode()
                rows += len(batch)
                batch = []
        if batch:
            yield encode(batch).encode()
            rows += len(batch)
        completed = True
    finally:
        export_log_finish(log=log, rows=rows, completed=completed)


def _csv_line(values: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def export_stream(req: ExportRequest, *, fmt: str, log: ExportLog) -> Iterator[bytes]:
    """The export as an iterator of byte chunks, in constant memory (server-side cursor)."""
    if fmt == ExportFormat.CSV:

        def encode_csv(batch: list[list]) -> str:
            out = io.StringIO()
            csv.writer(out, lineterminator="\r\n").writerows(
                [csv_safe(v) for v in values] for values in batch
            )
            return out.getvalue()

        return _stream(req, log, encode_csv, _csv_line(header_names(req)))
    if fmt == ExportFormat.NDJSON:
        names = header_names(req)
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode

        def encode_json(batch: list[list]) -> str:
            return "".join(dumps(dict(zip(names, values, strict=True))) + "\n" for values in batch)

        return _stream(req, log, encode_json, None)
    raise DomainError(f"format must be csv or ndjson, not {fmt!r}.", field="format")
