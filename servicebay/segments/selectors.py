"""Every read the segments pages and endpoints need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from servicebay.shop.models import Customer

from .compiler import members_queryset
from .dsl import SegmentFilter
from .models import ExportLog, Segment, SegmentCount, SegmentMember, SegmentSnapshot


def segment_list(*, include_archived: bool = False) -> QuerySet[Segment]:
    """Saved segments with their owner, by name."""
    qs = Segment.objects.select_related("owner")
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    return qs.order_by("name", "id")


def segment_get(*, segment_id: int) -> Segment:
    """One segment (404 when unknown)."""
    return get_object_or_404(Segment.objects.select_related("owner"), pk=segment_id)


def segment_count_history(*, segment: Segment, limit: int = 60) -> list[SegmentCount]:
    """The latest ``limit`` count points, oldest first (what the chart draws)."""
    points = list(segment.counts.order_by("-counted_at", "-id")[:limit])
    points.reverse()
    return points


def snapshot_list(*, segment: Segment) -> QuerySet[SegmentSnapshot]:
    """A segment's snapshots, newest first."""
    return segment.snapshots.order_by("-taken_at", "-id")


def snapshot_get(*, segment: Segment, snapshot_id: int) -> SegmentSnapshot:
    """One snapshot of this segment (404 when unknown or another segment's)."""
    return get_object_or_404(SegmentSnapshot, segment=segment, pk=snapshot_id)


@dataclass
class Preview:
    count: int
    sample: list[Customer]


def segment_preview(*, f: SegmentFilter, as_of: datetime, sample_size: int = 10) -> Preview:
    """Live count and a small sample of members (two queries), for the builder."""
    qs = members_queryset(f, as_of=as_of)
    count = qs.count()
    sample = list(qs.select_related("home_location", "stats").order_by("-pk")[:sample_size])
    return Preview(count=count, sample=sample)


@dataclass
class SnapshotDiff:
    before: SegmentSnapshot
    after: SegmentSnapshot
    entered: QuerySet[Customer]
    exited: QuerySet[Customer]


def snapshot_diff(*, before: SegmentSnapshot, after: SegmentSnapshot) -> SnapshotDiff:
    """Who entered (in ``after`` only) and who exited (in ``before`` only), as customer querysets."""
    in_before = SegmentMember.objects.filter(snapshot=before).values("customer_id")
    in_after = SegmentMember.objects.filter(snapshot=after).values("customer_id")
    entered = Customer.objects.filter(pk__in=in_after).exclude(pk__in=in_before).order_by("pk")
    exited = Customer.objects.filter(pk__in=in_before).exclude(pk__in=in_after).order_by("pk")
    return SnapshotDiff(before=before, after=after, entered=entered, exited=exited)


def snapshot_members(*, snapshot: SegmentSnapshot) -> QuerySet[Customer]:
    """A snapshot's customers (unfiltered by consent: for staff screens, never for exports)."""
    ids = SegmentMember.objects.filter(snapshot=snapshot).values("customer_id")
    return Customer.objects.filter(pk__in=ids).order_by("pk")


def export_log_list(*, segment: Segment | None = None) -> QuerySet[ExportLog]:
    """Export log rows, newest first, with who and what."""
    qs = ExportLog.objects.select_related("segment", "api_key", "user")
    if segment is not None:
        qs = qs.filter(segment=segment)
    return qs.order_by("-started_at", "-id")
