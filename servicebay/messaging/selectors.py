"""Reads of the messaging app for pages, endpoints and Customer 360.

Customer 360 calls ``consent_badges``, ``message_history`` and ``last_contacted_at`` (through its
provider registry) and includes ``messaging/partials/customer_panel.html`` (needs ``customer``)
and ``messaging/partials/send_form.html`` (needs ``customer``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from servicebay.shop.models import Customer

from .choices import CHANNELS, Channel, MessageStatus, Purpose
from .consent import ConsentStatus, consent_state
from .models import (
    ConsentRecord,
    Journey,
    JourneyEnrollment,
    Message,
    MessageTemplate,
    Suppression,
)

SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED)


@dataclass(frozen=True)
class ConsentBadge:
    """One channel's consent in a line: ``Email · marketing: Opted in``."""

    channel: str
    channel_label: str
    transactional: ConsentStatus
    marketing: ConsentStatus

    @property
    def tone(self) -> str:
        """success (may market), neutral (service messages only), danger (nothing)."""
        if self.marketing.allowed:
            return "success"
        if self.transactional.allowed:
            return "neutral"
        return "danger"

    @property
    def summary(self) -> str:
        if self.marketing.allowed:
            return "Marketing and service"
        if self.transactional.allowed:
            return "Service messages only"
        return self.transactional.label if self.transactional.address else "No address"


def consent_badges(*, customer_id: int) -> list[ConsentBadge]:
    """Consent per channel for one customer (three queries, whatever the ledger's length)."""
    customer = Customer.objects.select_related("home_location").get(pk=customer_id)
    state = consent_state(customer)
    return [
        ConsentBadge(ch, Channel(ch).label, state[(ch, Purpose.TRANSACTIONAL)], state[(ch, Purpose.MARKETING)])
        for ch in CHANNELS
    ]


def message_history(*, customer_id: int, limit: int = 20) -> list[Message]:
    """The customer's messages, newest first, with template and journey loaded."""
    return list(
        Message.objects.filter(customer_id=customer_id)
        .select_related("template", "journey", "customer__home_location")
        .order_by("-created_at", "-id")[:limit]
    )


def last_contacted_at(*, customer_id: int) -> datetime | None:
    """When we last got a message out to the customer (sent or delivered)."""
    return (
        Message.objects.filter(customer_id=customer_id, status__in=SENT_STATUSES, sent_at__isnull=False)
        .order_by("-sent_at").values_list("sent_at", flat=True).first()
    )


def consent_ledger(*, customer_id: int, limit: int = 50) -> list[ConsentRecord]:
    return list(
        ConsentRecord.objects.filter(customer_id=customer_id).select_related("actor_user")
        .order_by("-recorded_at", "-id")[:limit]
    )


def customer_for_messaging(*, customer_id: int) -> Customer:
    """A customer with what messaging pages read; 404 when unknown."""
    return get_object_or_404(
        Customer.objects.select_related("home_location", "contact_preference"), pk=customer_id
    )


def message_template_list(*, active_only: bool = False) -> QuerySet[MessageTemplate]:
    qs = MessageTemplate.objects.all().order_by("name", "id")
    return qs.filter(is_active=True) if active_only else qs


def journey_list() -> QuerySet[Journey]:
    return Journey.objects.all().order_by("-is_active", "name", "id")


def message_list(*, status: str | None = None, channel: str | None = None,
                 customer_id: int | None = None, journey_id: int | None = None) -> QuerySet[Message]:
    qs = Message.objects.select_related("customer", "template", "journey")
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if journey_id:
        qs = qs.filter(journey_id=journey_id)
    return qs


def outbox_counts() -> dict[str, int]:
    """Messages per status (for the overview)."""
    counts = {s: 0 for s in MessageStatus.values}
    for row in Message.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def suppression_list(*, active_only: bool = True, query: str = "") -> QuerySet[Suppression]:
    qs = Suppression.objects.all()
    if active_only:
        qs = qs.filter(lifted_at__isnull=True)
    if query:
        qs = qs.filter(address__startswith=query.strip().lower())
    return qs


def enrollment_list(*, journey_id: int, limit: int = 50) -> list[JourneyEnrollment]:
    return list(
        JourneyEnrollment.objects.filter(journey_id=journey_id).select_related("customer")
        .order_by("-created_at", "-id")[:limit]
    )


def next_scheduled(*, customer_id: int) -> Message | None:
    """The customer's next message waiting to go out (queued or deferred)."""
    return (
        Message.objects.filter(customer_id=customer_id, status__in=(MessageStatus.QUEUED, MessageStatus.DEFERRED))
        .order_by("scheduled_for", "id").first()
    )
