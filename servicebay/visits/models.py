"""Visits: one stay of one vehicle at the shop, and what the shop recommended during it."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .choices import (
    SATISFACTION_LABELS,
    SATISFACTION_MAX,
    SATISFACTION_MIN,
    RecommendationStatus,
    SatisfactionSource,
    VisitType,
)

MONEY = {"max_digits": 12, "decimal_places": 2}


class CustomerVisit(models.Model):
    """A vehicle's stay at a location, tied one-to-one to the job card of the work done.

    ``total_spend`` mirrors the job card's total (after discounts and loyalty redemptions) and
    is kept equal to it by the receivers in ``receivers.py`` whenever the card changes.
    """

    customer = models.ForeignKey(
        "shop.Customer", on_delete=models.CASCADE, related_name="visits"
    )
    vehicle = models.ForeignKey("shop.Vehicle", on_delete=models.CASCADE, related_name="visits")
    job_card = models.OneToOneField(
        "shop.JobCard", on_delete=models.CASCADE, related_name="visit"
    )
    # RESTRICT, not PROTECT: deleting a customer removes appointments and visits together.
    appointment = models.OneToOneField(
        "shop.Appointment", null=True, blank=True, on_delete=models.RESTRICT, related_name="visit"
    )
    visit_type = models.CharField(max_length=10, choices=VisitType.choices)
    location = models.ForeignKey("shop.Location", on_delete=models.PROTECT, related_name="visits")
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    odometer_in = models.PositiveIntegerField(null=True, blank=True)
    check_in_at = models.DateTimeField(default=timezone.now)
    check_out_at = models.DateTimeField(null=True, blank=True)
    total_spend = models.DecimalField(**MONEY, default=Decimal("0"))
    satisfaction_score = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text=f"{SATISFACTION_MIN} (very dissatisfied) to {SATISFACTION_MAX} (very satisfied).",
    )
    satisfaction_comment = models.TextField(blank=True)
    satisfaction_source = models.CharField(
        max_length=16, choices=SatisfactionSource.choices, blank=True
    )
    satisfaction_recorded_at = models.DateTimeField(null=True, blank=True)
    satisfaction_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-check_in_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-check_in_at", "-id"], name="visit_customer_timeline"),
            models.Index(fields=["vehicle", "-check_in_at"], name="visit_vehicle_checkin"),
            models.Index(fields=["location", "-check_in_at"], name="visit_location_checkin"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(visit_type=VisitType.SCHEDULED, appointment__isnull=False)
                    | Q(visit_type=VisitType.WALK_IN, appointment__isnull=True)
                ),
                name="visit_scheduled_iff_appointment",
            ),
            models.CheckConstraint(
                condition=Q(check_out_at__isnull=True) | Q(check_out_at__gte=F("check_in_at")),
                name="visit_check_out_after_check_in",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction_score__isnull=True)
                | Q(satisfaction_score__gte=SATISFACTION_MIN, satisfaction_score__lte=SATISFACTION_MAX),
                name="visit_satisfaction_range",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction_score__isnull=True) | Q(check_out_at__isnull=False),
                name="visit_rated_after_check_out",
            ),
            models.CheckConstraint(condition=Q(total_spend__gte=0), name="visit_total_spend_nonneg"),
            # A vehicle is in the shop once at a time, even when two advisors check it in at once.
            models.UniqueConstraint(
                fields=["vehicle"], condition=Q(check_out_at__isnull=True),
                name="visit_one_open_per_vehicle",
            ),
        ]

    def __str__(self) -> str:
        return f"Visit #{self.pk} · {self.vehicle_id} @ {self.check_in_at:%Y-%m-%d}"

    @property
    def is_checked_out(self) -> bool:
        return self.check_out_at is not None

    @property
    def satisfaction_label(self) -> str:
        return SATISFACTION_LABELS.get(self.satisfaction_score, "") if self.satisfaction_score else ""


class VisitRecommendation(models.Model):
    """Work the shop recommended during a visit, from a service template.

    A decline keeps what was measured then (``measured_value``, e.g. "pads 3 mm") and when
    (``declined_at``), also after the item is accepted later. A recommendation made at a later
    visit for the same vehicle and service while an earlier one stands declined links back to it
    (``recovered_from``), so recovered declined work can be counted.
    """

    visit = models.ForeignKey(CustomerVisit, on_delete=models.CASCADE, related_name="recommendations")
    service_template = models.ForeignKey(
        "shop.ServiceTemplate", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=RecommendationStatus.choices, default=RecommendationStatus.SUGGESTED
    )
    notes = models.TextField(blank=True)
    measured_value = models.CharField(max_length=120, blank=True)
    estimated_price = models.DecimalField(**MONEY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_label = models.CharField(max_length=64, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=200, blank=True)
    recovered_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="recovered_by"
    )
    # The work an acceptance created: a line on an open job card, or a booked appointment.
    job_line = models.ForeignKey(
        "shop.JobLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    appointment = models.ForeignKey(
        "shop.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["visit", "status"], name="visitrec_visit_status"),
            models.Index(fields=["status", "service_template"], name="visitrec_status_template"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(estimated_price__gte=0), name="visitrec_price_nonneg"),
            models.CheckConstraint(
                condition=Q(status=RecommendationStatus.SUGGESTED) | Q(decided_at__isnull=False),
                name="visitrec_decided_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status=RecommendationStatus.DECLINED) | Q(declined_at__isnull=False),
                name="visitrec_declined_has_time",
            ),
            models.CheckConstraint(
                condition=Q(recovered_from__isnull=True) | ~Q(recovered_from=F("id")),
                name="visitrec_not_recovered_from_self",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_template_id} ({self.status}) on visit {self.visit_id}"

    @property
    def is_open(self) -> bool:
        return self.status != RecommendationStatus.ACCEPTED

    @property
    def is_recovered(self) -> bool:
        """Accepted after having been declined, here or at an earlier visit."""
        return self.status == RecommendationStatus.ACCEPTED and (
            self.declined_at is not None or self.recovered_from_id is not None
        )
