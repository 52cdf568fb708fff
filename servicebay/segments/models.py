"""Segments: per-customer aggregates, saved filters, immutable snapshots and the export log."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import (
    ContactChannel,
    ContactPurpose,
    ExportFormat,
    ExportStatus,
    SegmentKind,
    SnapshotSource,
)


class CustomerStats(models.Model):
    """What segment filters ask about a customer, kept current in the writes' own transaction.

    One row per customer, so a count over a million customers is an index scan here instead of
    an aggregation over millions of visits. ``customer_stats_refresh`` recomputes a row from its
    sources; ``servicebay segments rebuild-stats`` recomputes them all.
    A visit counts once its job card is completed or closed.
    """

    customer = models.OneToOneField(
        "shop.Customer", primary_key=True, on_delete=models.CASCADE, related_name="stats"
    )
    lifetime_spend = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    visit_count = models.PositiveIntegerField(default=0)
    first_visit_at = models.DateTimeField(null=True, blank=True)
    last_visit_at = models.DateTimeField(null=True, blank=True)
    open_recommendations = models.PositiveIntegerField(default=0)
    loyalty_tier = models.CharField(max_length=40, blank=True)
    loyalty_points = models.IntegerField(default=0)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "customer stats"
        indexes = [
            models.Index(fields=["lifetime_spend"], name="custstats_spend"),
            models.Index(fields=["visit_count"], name="custstats_visits"),
            models.Index(fields=["last_visit_at"], name="custstats_last_visit"),
            models.Index(fields=["loyalty_tier"], name="custstats_tier"),
            models.Index(fields=["loyalty_points"], name="custstats_points"),
        ]

    def __str__(self) -> str:
        return f"stats of customer {self.customer_id}"


class Segment(models.Model):
    """A saved audience: a versioned filter (dynamic) or a frozen list (static)."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    filter = models.JSONField(default=dict, blank=True)
    filter_version = models.PositiveIntegerField(default=1)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snapshot_every_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Dynamic segments re-snapshot this often; empty = never."
    )
    next_snapshot_at = models.DateTimeField(null=True, blank=True)
    last_count = models.PositiveIntegerField(null=True, blank=True)
    last_counted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["next_snapshot_at"], name="segment_due",
                         condition=Q(archived_at__isnull=True)),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="segment_has_name"),
            models.CheckConstraint(
                condition=Q(snapshot_every_hours__isnull=True) | Q(snapshot_every_hours__gte=1),
                name="segment_schedule_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dynamic(self) -> bool:
        return self.kind == SegmentKind.DYNAMIC


class SegmentCount(models.Model):
    """One point of a segment's count history (every save, count and snapshot adds one)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="counts")
    counted_at = models.DateTimeField(default=timezone.now)
    as_of = models.DateTimeField()
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["-counted_at", "-id"]
        indexes = [models.Index(fields=["segment", "-counted_at"], name="segcount_history")]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.count} @ {self.counted_at:%Y-%m-%d %H:%M}"


class SegmentSnapshot(models.Model):
    """The members of a segment at one moment, frozen. Never updated after it is taken."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(default=timezone.now)
    as_of = models.DateTimeField()
    filter = models.JSONField(default=dict, blank=True)
    filter_version = models.PositiveIntegerField(default=1)
    source = models.CharField(max_length=10, choices=SnapshotSource.choices)
    member_count = models.PositiveIntegerField(default=0)
    taken_by = models.CharField(max_length=64)

    class Meta:
        ordering = ["-taken_at", "-id"]
        get_latest_by = ["taken_at", "id"]
        indexes = [models.Index(fields=["segment", "-taken_at", "-id"], name="snapshot_latest")]

    def __str__(self) -> str:
        return f"{self.segment_id} snapshot {self.pk} ({self.member_count})"


class SegmentMember(models.Model):
    """One customer in one snapshot. Rows go away only with their customer (erasure)."""

    snapshot = models.ForeignKey(SegmentSnapshot, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey("shop.Customer", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "customer"], name="segmember_unique"),
        ]
        indexes = [models.Index(fields=["customer"], name="segmember_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} in snapshot {self.snapshot_id}"


class ExportLog(models.Model):
    """Who exported which members, with which filter, fields and consent basis, how many rows."""

    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="exports")
    snapshot = models.ForeignKey(
        SegmentSnapshot, null=True, on_delete=models.SET_NULL, related_name="exports"
    )
    api_key = models.ForeignKey(
        "core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=64)
    filter = models.JSONField(default=dict, blank=True)
    fields = models.JSONField(default=list)
    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    channel = models.CharField(max_length=10, choices=ContactChannel.choices)
    purpose = models.CharField(max_length=15, choices=ContactPurpose.choices)
    pii = models.BooleanField(default=False)
    rows = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=ExportStatus.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["segment", "-started_at"], name="exportlog_segment")]

    def __str__(self) -> str:
        return f"export of {self.segment_id} by {self.actor} ({self.rows} rows)"
