"""Segments and the consent-safe export API. Thin: permission, parse, service or selector."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Query, Router, Status

from servicebay.core.api_auth import actor_of, principal_can, require
from servicebay.core.errors import DomainError
from servicebay.core.models import ApiKey
from servicebay.core.pagination import keyset_page
from servicebay.core.schemas import ERRORS
from servicebay.shop.models import Customer

from . import selectors, services
from .choices import ExportFormat
from .dsl import parse_filter
from .explain import explain_customer
from .schemas import (
    CountOut,
    DiffOut,
    ExplainOut,
    MembersPage,
    SegmentIn,
    SegmentOut,
    SegmentPage,
    SegmentPatch,
    SegmentPreviewIn,
    SegmentPreviewOut,
    SnapshotIn,
    SnapshotOut,
    SnapshotPage,
)
from .services.exports import snapshot_from_cursor

router = Router(tags=["segments"])


def _as_of(value: datetime | None) -> datetime:
    if value is None:
        return timezone.now()
    if timezone.is_naive(value):
        raise DomainError("Give as_of with its UTC offset.", field="as_of")
    return value


@router.get("/segments", response={200: SegmentPage, **ERRORS})
def segment_list(request: HttpRequest, cursor: str | None = None,
                 limit: int = Query(50, ge=1, le=200)):
    require(request, "segments.view")
    page = keyset_page(selectors.segment_list(), order=("name", "id"), cursor=cursor, limit=limit,
                       scope="segments")
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/segments", response={201: SegmentOut, **ERRORS})
def segment_create(request: HttpRequest, payload: SegmentIn):
    require(request, "segments.manage")
    segment = services.segment_create(actor=actor_of(request), **payload.dict())
    return Status(201, segment)


@router.post("/segments/preview", response={200: SegmentPreviewOut, **ERRORS})
def segment_preview(request: HttpRequest, payload: SegmentPreviewIn):
    """Live count and a sample of members for a filter that is not saved yet."""
    require(request, "segments.view")
    as_of = _as_of(payload.as_of)
    preview = selectors.segment_preview(f=parse_filter(payload.filter), as_of=as_of)
    return {"count": preview.count, "as_of": as_of, "sample": preview.sample}


@router.get("/segments/{segment_id}", response={200: SegmentOut, **ERRORS})
def segment_get(request: HttpRequest, segment_id: int):
    require(request, "segments.view")
    return selectors.segment_get(segment_id=segment_id)


@router.patch("/segments/{segment_id}", response={200: SegmentOut, **ERRORS})
def segment_update(request: HttpRequest, segment_id: int, payload: SegmentPatch):
    require(request, "segments.manage")
    segment = selectors.segment_get(segment_id=segment_id)
    fields = payload.dict(exclude_unset=True)
    return services.segment_update(segment=segment, actor=actor_of(request), **fields)


@router.post("/segments/{segment_id}/count", response={200: CountOut, **ERRORS})
def segment_count(request: HttpRequest, segment_id: int, payload: SnapshotIn):
    """Count the members now (or at as_of) and add the point to the count history."""
    require(request, "segments.view")
    segment = selectors.segment_get(segment_id=segment_id)
    return services.segment_count(segment=segment, as_of=_as_of(payload.as_of))


@router.get("/segments/{segment_id}/snapshots", response={200: SnapshotPage, **ERRORS})
def snapshot_list(request: HttpRequest, segment_id: int, cursor: str | None = None,
                  limit: int = Query(50, ge=1, le=200)):
    require(request, "segments.view")
    segment = selectors.segment_get(segment_id=segment_id)
    page = keyset_page(selectors.snapshot_list(segment=segment), order=("-taken_at", "-id"),
                       cursor=cursor, limit=limit, scope=f"snapshots:{segment.pk}")
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/segments/{segment_id}/snapshots", response={201: SnapshotOut, **ERRORS})
def snapshot_take(request: HttpRequest, segment_id: int, payload: SnapshotIn):
    require(request, "segments.manage")
    segment = selectors.segment_get(segment_id=segment_id)
    snapshot = services.snapshot_take(segment=segment, actor=actor_of(request),
                                      as_of=_as_of(payload.as_of))
    return Status(201, snapshot)


@router.get("/segments/{segment_id}/snapshots/{before_id}/diff/{after_id}",
            response={200: DiffOut, **ERRORS})
def snapshot_diff(request: HttpRequest, segment_id: int, before_id: int, after_id: int,
                  limit: int = Query(100, ge=0, le=1000)):
    """Customers who entered and exited between two snapshots (ids; counts in full)."""
    require(request, "segments.view")
    segment = selectors.segment_get(segment_id=segment_id)
    diff = selectors.snapshot_diff(
        before=selectors.snapshot_get(segment=segment, snapshot_id=before_id),
        after=selectors.snapshot_get(segment=segment, snapshot_id=after_id),
    )
    return {
        "before_id": before_id, "after_id": after_id,
        "entered_count": diff.entered.count(), "exited_count": diff.exited.count(),
        "entered": list(diff.entered.values_list("pk", flat=True)[:limit]),
        "exited": list(diff.exited.values_list("pk", flat=True)[:limit]),
    }


@router.get("/segments/{segment_id}/explain/{customer_id}", response={200: ExplainOut, **ERRORS})
def segment_explain(request: HttpRequest, segment_id: int, customer_id: int,
                    as_of: datetime | None = None):
    """Why this customer is in or out of the segment, condition by condition."""
    require(request, "segments.view")
    segment = selectors.segment_get(segment_id=segment_id)
    if not segment.is_dynamic:
        raise DomainError("A static segment has no filter to explain.", field="segment_id")
    customer = get_object_or_404(Customer, pk=customer_id)
    when = _as_of(as_of)
    explanation = explain_customer(parse_filter(segment.filter), customer=customer, as_of=when)
    return {"customer_id": customer.pk, "segment_id": segment.pk, "as_of": when,
            "member": explanation.passed, "explanation": explanation}


_STREAMED = {"schema": {"type": "string", "description": "The whole snapshot, streamed."}}


@router.get("/segments/{segment_id}/members", response={200: MembersPage, **ERRORS},
            openapi_extra={"responses": {"200": {"description": "OK", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/MembersPage"}},
                "text/csv": _STREAMED, "application/x-ndjson": _STREAMED}}}})
def segment_members(
    request: HttpRequest,
    segment_id: int,
    channel: Literal["email", "sms", "whatsapp"],
    purpose: Literal["transactional", "marketing"],
    fields: str | None = Query(None, description="Comma-separated columns; see docs/export.md."),
    snapshot_id: int | None = None,
    format: Literal["json", "csv", "ndjson"] = "json",
    header: Literal["standard", "mailchimp", "klaviyo", "hubspot"] = "standard",
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
):
    """Members of a snapshot who may be contacted on ``channel`` for ``purpose``.

    ``format=json`` is a keyset page (pass ``next_cursor`` back as ``cursor``; a cursor stays on
    its snapshot); ``csv`` and ``ndjson`` stream the whole snapshot. Only opted-in, unsuppressed
    contacts are ever returned. Raw ``email``/``phone_number`` need the ``pii`` scope.
    """
    require(request, "segments.export")
    segment = selectors.segment_get(segment_id=segment_id)
    after = None
    if cursor:
        if format != ExportFormat.JSON:
            raise DomainError("A cursor only applies to format=json.", field="cursor")
        snapshot_id, after = snapshot_from_cursor(segment, cursor, channel, purpose)
    req = services.export_prepare(
        segment=segment, channel=channel, purpose=purpose,
        fields=[f.strip() for f in fields.split(",") if f.strip()] if fields else None,
        pii_allowed=principal_can(request, "segments.export_pii"),
        snapshot_id=snapshot_id, header_style=header,
    )
    principal = request.auth
    key = principal if isinstance(principal, ApiKey) else None
    log = services.export_log_start(req=req, fmt=format, actor_label=actor_of(request).label,
                                    api_key=key, user=None if key else principal)
    if format == ExportFormat.JSON:
        items, next_cursor = services.export_page(req, after=after, limit=limit)
        services.export_log_finish(log=log, rows=len(items), completed=True)
        return {"segment_id": segment.pk, "snapshot_id": req.snapshot.pk, "channel": channel,
                "purpose": purpose, "fields": list(req.fields), "items": items,
                "next_cursor": next_cursor}
    return export_response(req, fmt=format, log=log)


def export_response(req, *, fmt: str, log) -> StreamingHttpResponse:
    """The streamed file response of an export (shared with the HTML download)."""
    content_type = "text/csv; charset=utf-8" if fmt == ExportFormat.CSV else "application/x-ndjson"
    response = StreamingHttpResponse(services.export_stream(req, fmt=fmt, log=log),
                                     content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    filename = f"segment-{req.segment.pk}-snapshot-{req.snapshot.pk}-{req.channel}-{stamp}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Snapshot-Id"] = str(req.snapshot.pk)
    return response
