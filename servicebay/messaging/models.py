"""Consent and suppression ledgers, message templates, journeys, the outbox and inbound messages."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import (
    Channel,
    ConsentSource,
    EnrollmentStatus,
    InboundKeyword,
    MessageStatus,
    Purpose,
    SuppressionReason,
)


class ConsentRecord(models.Model):
    """One statement of consent, append-only: the latest row per (channel, purpose) is the state."""

    customer = models.ForeignKey(
        "shop.Customer", on_delete=models.CASCADE, related_name="consent_records"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    address = models.CharField(max_length=254, blank=True, help_text="The address consented for.")
    note = models.CharField(max_length=200, blank=True)
    actor = models.CharField(max_length=64)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "channel", "purpose", "-recorded_at", "-id"],
                         name="consent_current"),
        ]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrew"
        return f"{self.customer_id} {verb} {self.channel}/{self.purpose} ({self.source})"


class Suppression(models.Model):
    """An address nobody may message on a channel, whoever the customer. Lifting keeps the row."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254, help_text="Normalised: E.164 phone or lower-case email.")
    reason = models.CharField(max_length=12, choices=SuppressionReason.choices)
    note = models.CharField(max_length=200, blank=True)
    actor = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "address"], condition=Q(lifted_at__isnull=True),
                name="suppression_active_unique",
            ),
        ]
        indexes = [models.Index(fields=["address", "channel"], name="suppression_address")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address} ({self.reason})"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class ContactPreference(models.Model):
    """The order in which a customer wants to be reached; missing channels follow in default order."""

    customer = models.OneToOneField(
        "shop.Customer", on_delete=models.CASCADE, related_name="contact_preference"
    )
    channel_order = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.customer_id}: {', '.join(self.channel_order)}"


class MessageTemplate(models.Model):
    """A message with a variant per channel; a blank variant means the channel is not offered."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.TRANSACTIONAL)
    email_subject = models.CharField(max_length=300, blank=True)
    email_html = models.TextField(blank=True)
    email_text = models.TextField(blank=True)
    sms_body = models.TextField(blank=True)
    whatsapp_template_name = models.CharField(
        max_length=120, blank=True, help_text="The provider's approved template (Twilio ContentSid)."
    )
    whatsapp_params = models.JSONField(
        default=list, blank=True, help_text="One template expression per provider placeholder {{1}}, {{2}} …"
    )
    whatsapp_body = models.TextField(
        blank=True, help_text="Free text, only inside the 24-hour customer-service window."
    )
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def has_variant(self, channel: str) -> bool:
        if channel == Channel.EMAIL:
            return bool(self.email_subject and (self.email_text or self.email_html))
        if channel == Channel.SMS:
            return bool(self.sms_body)
        if channel == Channel.WHATSAPP:
            return bool(self.whatsapp_template_name or self.whatsapp_body)
        return False

    @property
    def channels(self) -> list[str]:
        return [c for c in Channel.values if self.has_variant(c)]


class Journey(models.Model):
    """A trigger and its steps (``definition``, validated by ``definitions.JourneyDefinition``)."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    definition = models.JSONField(default=dict)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(
        default=0, help_text="Share of enrolled customers kept as an untouched control group."
    )
    attribution_days = models.PositiveSmallIntegerField(default=14)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="journey_holdout_range"),
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="journey_quiet_hours_pair",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class JourneyEnrollment(models.Model):
    """One customer's way through one journey for one trigger (an event, a birthday, a due date)."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments")
    customer = models.ForeignKey("shop.Customer", on_delete=models.CASCADE, related_name="+")
    trigger_key = models.CharField(max_length=120)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    step_index = models.PositiveSmallIntegerField(default=0)
    next_step_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=200, blank=True)
    journey_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "customer", "trigger_key"],
                                    name="enrollment_once_per_trigger"),
        ]
        indexes = [
            models.Index(fields=["status", "next_step_at"], name="enrollment_due"),
            models.Index(fields=["customer", "-created_at"], name="enrollment_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}/{self.customer_id}/{self.trigger_key}"


class Message(models.Model):
    """One outbox row: what to send to whom, when, and what became of it."""

    customer = models.ForeignKey("shop.Customer", on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    journey = models.ForeignKey(
        Journey, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    enrollment = models.ForeignKey(
        JourneyEnrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    step_index = models.PositiveSmallIntegerField(null=True, blank=True)
    trigger_key = models.CharField(max_length=120, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    to_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True, help_text="Text body: SMS, WhatsApp text, email text part.")
    body_html = models.TextField(blank=True)
    provider_template = models.CharField(max_length=120, blank=True)
    provider_params = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    scheduled_for = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_message_id = models.CharField(max_length=120, blank=True)
    skip_reason = models.CharField(max_length=300, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    opt_out_notice = models.BooleanField(default=False)
    created_by = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    # The hand-off record of the current attempt (email): the claim sets ``handoff_token`` to its
    # lease token and clears ``handoff_started_at``; the dispatcher stamps the time, in its own
    # commit, just before the SMTP conversation. A lease that expires on a row of its own attempt
    # with no stamp was certainly not handed over. A token of another attempt (or none, from a
    # claim that did not keep this record) proves nothing.
    handoff_token = models.CharField(max_length=32, blank=True)
    handoff_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "step_index", "customer", "trigger_key"],
                condition=Q(journey__isnull=False), name="message_once_per_journey_step",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_for", "id"], name="message_due"),
            models.Index(fields=["customer", "-created_at", "-id"], name="message_customer"),
            models.Index(fields=["provider_message_id"], name="message_provider_id"),
            models.Index(fields=["status", "lease_until"], name="message_lease"),
            models.Index(fields=["journey", "created_at"], name="message_journey"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.customer_id} ({self.status})"


class InboundMessage(models.Model):
    """A message a customer sent us (SMS or WhatsApp): keywords, and the WhatsApp 24-hour window."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    from_address = models.CharField(max_length=64)
    to_address = models.CharField(max_length=64, blank=True)
    body = models.TextField(blank=True)
    keyword = models.CharField(max_length=8, choices=InboundKeyword.choices, blank=True)
    provider_message_id = models.CharField(max_length=120, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["channel", "from_address", "-received_at"], name="inbound_from")]
        constraints = [
            models.UniqueConstraint(fields=["channel", "provider_message_id"],
                                    condition=~Q(provider_message_id=""), name="inbound_once"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} from {self.from_address}: {self.body[:40]}"


class EventCursor(models.Model):
    """How far a consumer has read the event log, stored in the transaction of its effects.

    ``(last_txid, last_id)`` is the position of the scan; ``cycle_xmin`` (PostgreSQL) is the
    snapshot horizon when the current pass over the log began — the next pass restarts there, so
    an event whose transaction was still open when the scan passed it is read once it commits.
    """

    name = models.CharField(max_length=60, unique=True)
    last_txid = models.BigIntegerField(default=0)
    last_id = models.BigIntegerField(default=0)
    cycle_xmin = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ ({self.last_txid}, {self.last_id})"
