"""Consent and suppression: the ledgers, the current state, and the one question senders ask.

Rules (DESIGN §2, issue 5):
- Transactional messages may go to an address the customer gave us unless they opted out of it.
- Marketing needs an explicit opt-in (the latest statement for the channel is a grant).
- An opt-out wins at once: it suppresses messages already scheduled, and ``can_contact`` is asked
  again at send time.
- A STOP keyword can only be undone by the customer (START); staff cannot re-grant over it.
- A suppressed address is never messaged on that channel, whichever customer it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from servicebay.activity.services import record
from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError
from servicebay.shop.models import Customer
from servicebay.shop.validators import normalize_phone

from .choices import (
    CHANNELS,
    CUSTOMER_SOURCES,
    PENDING_STATUSES,
    STAFF_LIFTABLE,
    Channel,
    ConsentSource,
    MessageStatus,
    Purpose,
    SuppressionReason,
)
from .models import ConsentRecord, ContactPreference, Message, Suppression

PHONE_CHANNELS = (Channel.SMS, Channel.WHATSAPP)


# --- addresses ---------------------------------------------------------------------------------


def normalize_address(channel: str, address: str) -> str:
    """The form an address is compared in: lower-case email, E.164 phone (``whatsapp:`` dropped)."""
    address = (address or "").strip()
    if channel == Channel.EMAIL:
        return address.lower()
    if address.lower().startswith("whatsapp:"):
        address = address[len("whatsapp:"):]
    try:
        return normalize_phone(address)
    except ValidationError:
        return address


def address_of(customer: Customer, channel: str) -> str:
    """The customer's current address on ``channel`` (normalised), or "" when they have none."""
    raw = customer.email if channel == Channel.EMAIL else customer.phone
    return normalize_address(channel, raw) if raw else ""


# --- the current state -------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactDecision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class ConsentStatus:
    """The state of one (channel, purpose) for one customer, with why it is what it is."""

    channel: str
    purpose: str
    granted: bool | None  # the latest statement; None when the customer never said anything
    source: str
    recorded_at: datetime | None
    stopped: bool  # a STOP keyword is in force on this channel
    suppressed: str  # suppression reason of the current address, "" when not suppressed
    address: str
    allowed: bool
    reason: str

    @property
    def label(self) -> str:
        if self.stopped:
            return "STOP"
        if self.suppressed:
            return SuppressionReason(self.suppressed).label
        if self.granted is True:
            return "Opted in"
        if self.granted is False:
            return "Opted out"
        return "Implied" if self.purpose == Purpose.TRANSACTIONAL and self.address else "No consent"


@dataclass
class _Ledger:
    """The latest consent statements of a set of customers and the suppressed addresses."""

    latest: dict[tuple[int, str, str], ConsentRecord]
    stops: dict[tuple[int, str], ConsentRecord]
    suppressed: dict[tuple[str, str], str]


def _load_ledger(customers: Iterable[Customer], at: datetime | None) -> _Ledger:
    customers = list(customers)
    ids = [c.pk for c in customers]
    records = ConsentRecord.objects.filter(customer_id__in=ids)
    if at is not None:
        records = records.filter(recorded_at__lte=at)
    latest: dict[tuple[int, str, str], ConsentRecord] = {}
    stops: dict[tuple[int, str], ConsentRecord] = {}
    for rec in records.order_by("customer_id", "channel", "purpose", "-recorded_at", "-id"):
        latest.setdefault((rec.customer_id, rec.channel, rec.purpose), rec)
        if rec.source in (ConsentSource.STOP_KEYWORD, ConsentSource.START_KEYWORD):
            prior = stops.get((rec.customer_id, rec.channel))
            if prior is None or (rec.recorded_at, rec.pk) > (prior.recorded_at, prior.pk):
                stops[(rec.customer_id, rec.channel)] = rec
    pairs = {(ch, address_of(c, ch)) for c in customers for ch in CHANNELS}
    pairs = {(ch, addr) for ch, addr in pairs if addr}
    suppressed: dict[tuple[str, str], str] = {}
    if pairs:
        condition = Q()
        for ch, addr in pairs:
            condition |= Q(channel=ch, address=addr)
        active = Suppression.objects.filter(condition, lifted_at__isnull=True)
        if at is not None:
            active = active.filter(created_at__lte=at)
        suppressed = {(s.channel, s.address): s.reason for s in active}
    return _Ledger(latest=latest, stops=stops, suppressed=suppressed)


def _status(ledger: _Ledger, customer: Customer, channel: str, purpose: str) -> ConsentStatus:
    address = address_of(customer, channel)
    latest = ledger.latest.get((customer.pk, channel, purpose))
    stop = ledger.stops.get((customer.pk, channel))
    stopped = stop is not None and stop.source == ConsentSource.STOP_KEYWORD
    suppressed = ledger.suppressed.get((channel, address), "") if address else ""
    granted = latest.granted if latest else None
    if not address:
        allowed, reason = False, f"no {Channel(channel).label} address"
    elif stopped:
        allowed, reason = False, "the customer texted STOP"
    elif suppressed:
        allowed, reason = False, f"address suppressed ({SuppressionReason(suppressed).label.lower()})"
    elif granted is False:
        allowed, reason = False, f"opted out of {purpose} {Channel(channel).label}"
    elif purpose == Purpose.MARKETING and granted is not True:
        allowed, reason = False, f"no marketing opt-in for {Channel(channel).label}"
    else:
        allowed, reason = True, ""
    return ConsentStatus(
        channel=channel, purpose=purpose, granted=granted,
        source=latest.source if latest else "", recorded_at=latest.recorded_at if latest else None,
        stopped=stopped, suppressed=suppressed, address=address, allowed=allowed, reason=reason,
    )


def consent_state(customer: Customer, *, at: datetime | None = None) -> dict[tuple[str, str], ConsentStatus]:
    """The state of every (channel, purpose) for one customer, in two queries."""
    ledger = _load_ledger([customer], at)
    return {(ch, p): _status(ledger, customer, ch, p) for ch in CHANNELS for p in Purpose.values}


def can_contact(
    customer: Customer, channel: str, purpose: str, at: datetime | None = None
) -> ContactDecision:
    """May we message ``customer`` on ``channel`` for ``purpose`` (at ``at``, default now)?"""
    status = _status(_load_ledger([customer], at), customer, channel, purpose)
    return ContactDecision(status.allowed, status.reason)


def contact_decisions(
    requests: Iterable[tuple[Customer, str, str]], at: datetime | None = None
) -> dict[tuple[int, str, str], ContactDecision]:
    """``can_contact`` for many (customer, channel, purpose) at once, in two queries."""
    requests = list(requests)
    customers = {c.pk: c for c, _, _ in requests}
    ledger = _load_ledger(customers.values(), at)
    out = {}
    for customer, channel, purpose in requests:
        status = _status(ledger, customer, channel, purpose)
        out[(customer.pk, channel, purpose)] = ContactDecision(status.allowed, status.reason)
    return out


def channel_order(customer: Customer) -> list[str]:
    """The customer's channels in the order they prefer, every channel exactly once."""
    try:
        stored = list(customer.contact_preference.channel_order)
    except ContactPreference.DoesNotExist:
        stored = []
    first = [c for c in stored if c in CHANNELS] or [customer.preferred_channel]
    order = list(dict.fromkeys([*first, customer.preferred_channel, *CHANNELS]))
    return [c for c in order if c in CHANNELS]


def suppression_active(channel: str, address: str) -> Suppression | None:
    """The active suppression of an address on a channel, if any."""
    address = normalize_address(channel, address)
    return Suppression.objects.filter(channel=channel, address=address, lifted_at__isnull=True).first()


def stop_in_force(customer: Customer, channel: str) -> bool:
    """True when the customer's last keyword on ``channel`` was a STOP (only START undoes it)."""
    last = (
        ConsentRecord.objects.filter(
            customer=customer, channel=channel,
            source__in=[ConsentSource.STOP_KEYWORD, ConsentSource.START_KEYWORD],
        )
        .order_by("-recorded_at", "-id")
        .first()
    )
    return last is not None and last.source == ConsentSource.STOP_KEYWORD


# --- writes ------------------------------------------------------------------------------------


def _suppress_pending(*, customer_ids: Iterable[int] | None, channel: str, purposes: Iterable[str],
                      reason: str, address: str = "") -> int:
    """Pending messages that may no longer go out become ``suppressed`` right away."""
    pending = Message.objects.filter(status__in=PENDING_STATUSES, channel=channel, purpose__in=list(purposes))
    if customer_ids is not None:
        pending = pending.filter(customer_id__in=list(customer_ids))
    if address:
        pending = pending.filter(to_address=address)
    return pending.update(status=MessageStatus.SUPPRESSED, skip_reason=reason[:300])


@transaction.atomic
def consent_record(
    *,
    customer: Customer,
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    actor: Actor,
    note: str = "",
    at: datetime | None = None,
) -> ConsentRecord:
    """Append a consent statement and record ``consent.changed``.

    Repeating the current statement is a no-op. A grant over a STOP in force is refused unless it
    is the customer's own START. A withdrawal suppresses the matching pending messages at once.
    """
    if channel not in CHANNELS:
        raise DomainError(f"Unknown channel {channel!r}.", field="channel")
    if purpose not in Purpose.values:
        raise DomainError(f"Unknown purpose {purpose!r}.", field="purpose")
    if source not in ConsentSource.values:
        raise DomainError(f"Unknown source {source!r}.", field="source")
    # Serialise statements about one customer so a STOP and a staff grant cannot interleave.
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if (granted and channel in PHONE_CHANNELS and source != ConsentSource.START_KEYWORD
            and stop_in_force(customer, channel)):
        raise DomainError(
                f"The customer texted STOP on {Channel(channel).label}; only they can opt back in "
                "by texting START.",
                field="granted", code="StopInForce",
            )
    latest = (
        ConsentRecord.objects.filter(customer=customer, channel=channel, purpose=purpose)
        .order_by("-recorded_at", "-id")
        .first()
    )
    if latest is not None and latest.granted == granted and source not in CUSTOMER_SOURCES:
        return latest
    consent = ConsentRecord.objects.create(
        customer=customer, channel=channel, purpose=purpose, granted=granted, source=source,
        address=address_of(customer, channel), note=note[:200], actor=actor.label,
        actor_user=actor.user if getattr(actor.user, "pk", None) else None,
        recorded_at=at or timezone.now(),
    )
    record(
        "consent.changed", actor=actor, customer=customer, subject=consent,
        payload={"channel": channel, "purpose": purpose, "granted": granted, "source": source},
    )
    if not granted:
        _suppress_pending(
            customer_ids=[customer.pk], channel=channel, purposes=[purpose],
            reason=f"opted out ({ConsentSource(source).label})",
        )
    return consent


@transaction.atomic
def suppression_add(
    *, channel: str, address: str, reason: str, actor: Actor, note: str = ""
) -> Suppression:
    """Suppress an address on a channel (idempotent) and stop what is pending to it."""
    if channel not in CHANNELS:
        raise DomainError(f"Unknown channel {channel!r}.", field="channel")
    if reason not in SuppressionReason.values:
        raise DomainError(f"Unknown reason {reason!r}.", field="reason")
    address = normalize_address(channel, address)
    if not address:
        raise DomainError("Give the address to suppress.", field="address")
    existing = suppression_active(channel, address)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(
                channel=channel, address=address, reason=reason, note=note[:200], actor=actor.label
            )
    except IntegrityError:
        # Another process suppressed the same address a moment ago: the outcome is the same.
        return Suppression.objects.get(channel=channel, address=address, lifted_at__isnull=True)
    record("suppression.added", actor=actor, subject=suppression,
           payload={"channel": channel, "reason": reason})
    _suppress_pending(customer_ids=None, channel=channel, purposes=Purpose.values,
                      reason=f"address suppressed ({SuppressionReason(reason).label.lower()})",
                      address=address)
    return suppression


@transaction.atomic
def suppression_lift(*, suppression: Suppression, actor: Actor, by_customer: bool = False) -> Suppression:
    """Lift a suppression. Staff may lift bounces and manual entries; opt-outs only the customer."""
    suppression = Suppression.objects.select_for_update().get(pk=suppression.pk)
    if suppression.lifted_at is not None:
        return suppression
    if not by_customer and suppression.reason not in STAFF_LIFTABLE:
        raise DomainError(
            f"A suppression for '{SuppressionReason(suppression.reason).label.lower()}' can only be "
            "lifted by the customer.",
            field="reason", code="NotLiftable",
        )
    suppression.lifted_at = timezone.now()
    suppression.lifted_by = actor.label
    suppression.save(update_fields=["lifted_at", "lifted_by"])
    record("suppression.lifted", actor=actor, subject=suppression,
           payload={"channel": suppression.channel, "reason": suppression.reason})
    return suppression


@transaction.atomic
def contact_preference_set(*, customer: Customer, channel_order: list[str], actor: Actor) -> ContactPreference:
    """Store the order in which the customer wants to be reached."""
    unknown = [c for c in channel_order if c not in CHANNELS]
    if unknown:
        raise DomainError(f"Unknown channel {unknown[0]!r}.", field="channel_order")
    if len(set(channel_order)) != len(channel_order):
        raise DomainError("List each channel once.", field="channel_order")
    preference, _ = ContactPreference.objects.update_or_create(
        customer=customer, defaults={"channel_order": list(channel_order)}
    )
    record("messaging.preferences_changed", actor=actor, customer=customer, subject=preference,
           payload={"channel_order": list(channel_order)})
    return preference
