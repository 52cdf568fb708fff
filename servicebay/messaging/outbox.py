"""Sending the outbox: claim due rows safely, talk to providers outside the transaction, record.

DESIGN §3, "Claiming work safely":
1. ``outbox_claim`` — one short transaction: pick due rows (PostgreSQL ``FOR UPDATE SKIP LOCKED``,
   SQLite's single writer via ``BEGIN IMMEDIATE``), check them again *at send time* (consent,
   suppression, quiet hours, expiry, WhatsApp window), and mark the rest ``sending`` with a lease.
2. The provider calls, outside any transaction (a thread pool, so latency overlaps).
3. ``_record`` — one short transaction per outcome, fenced by the lease token.
A row whose lease ran out while ``sending`` becomes ``unknown``: the provider may have accepted
it. ``outbox_reconcile`` asks the provider (SMS/WhatsApp) or holds it for a person (SMTP) — it is
never sent again blindly. SMTP cannot be asked, so an email's hand-off is recorded, in its own
commit, just before the SMTP conversation (``outbox_handoff_begin``): an email whose lease ran out
before its attempt recorded that was certainly not sent, and is queued again instead. For all this
to be safe a send must be over before its lease ends: a claimed row whose send cannot start early
enough to finish within the lease (the provider is slow and the batch queued up behind it) is
released unsent instead of being sent late.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
import zoneinfo
from collections import deque
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from servicebay.activity.services import record
from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError

from . import consent
from .choices import PENDING_STATUSES, Channel, MessageStatus, Purpose
from .models import InboundMessage, Message
from .providers import (
    Accepted,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    ProviderFailure,
    TransientFailure,
    provider_for,
)
from .quiet_hours import QuietHours, default_quiet_hours
from .services import (
    OPT_OUT_NOTICE,
    OPT_OUT_NOTICE_EVERY,
    WHATSAPP_SESSION,
    _unsubscribe_url,
    public_url,
)

logger = logging.getLogger(__name__)
DISPATCHER = Actor.system("outbox")
LEASE = timedelta(seconds=90)  # the default of settings.MESSAGING_LEASE_SECONDS
MAX_ATTEMPTS = 5
RECONCILE_EVERY = timedelta(minutes=10)
RECORD_CHUNK = 20


def lease() -> timedelta:
    """How long a claimed row is ours (``MESSAGING_LEASE_SECONDS``)."""
    return timedelta(seconds=float(getattr(settings, "MESSAGING_LEASE_SECONDS", LEASE.total_seconds())))


def send_budget(channel: str) -> float:
    """Seconds one send may take at most, from its timeouts (connect + answer)."""
    if channel == Channel.EMAIL:
        return 2 * float(getattr(settings, "EMAIL_TIMEOUT", None) or 15)
    return 2 * float(getattr(settings, "MESSAGING_HTTP_TIMEOUT", 10))


class LeaseRanOut(TransientFailure):
    """Not handed over: too little of the lease was left to start the send safely (or the row
    was no longer ours when the hand-off was to be recorded)."""


def backoff(attempts: int) -> timedelta:
    """1, 4, 16, 64 minutes … capped at 6 hours, with ±10 % jitter so retries do not herd."""
    base = min(60 * 4 ** max(attempts - 1, 0), 6 * 3600)
    return timedelta(seconds=base * random.uniform(0.9, 1.1))


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    suppressed: int = 0
    skipped: int = 0
    deferred: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DispatchStats) -> None:
        for name in ("claimed", "sent", "retried", "failed", "unknown", "suppressed", "skipped", "deferred",
                     "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# --- 1. claim ----------------------------------------------------------------------------------


def _due(now: datetime, message_ids: Iterable[int] | None):
    qs = Message.objects.filter(status__in=PENDING_STATUSES, scheduled_for__lte=now)
    if message_ids is not None:
        qs = qs.filter(pk__in=list(message_ids))
    qs = qs.select_related("customer__home_location").order_by("scheduled_for", "id")
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def _recent_notices(customer_ids: set[int], now: datetime) -> set[int]:
    """Customers who got the SMS opt-out notice in the last 30 days (or have one on its way)."""
    return set(
        Message.objects.filter(
            customer_id__in=customer_ids, channel=Channel.SMS, opt_out_notice=True,
        ).filter(
            Q(sent_at__gte=now - OPT_OUT_NOTICE_EVERY) | Q(status=MessageStatus.SENDING)
            | Q(status=MessageStatus.UNKNOWN)
        ).values_list("customer_id", flat=True)
    )


def _whatsapp_sessions(phones: set[str], now: datetime) -> set[str]:
    if not phones:
        return set()
    return set(
        InboundMessage.objects.filter(
            channel=Channel.WHATSAPP, from_address__in=phones, received_at__gte=now - WHATSAPP_SESSION
        ).values_list("from_address", flat=True)
    )


def _settle(message: Message, status: str, reason: str, stats: DispatchStats) -> None:
    message.status, message.skip_reason = status, reason[:300]
    message.save(update_fields=["status", "skip_reason", "scheduled_for", "to_address"])
    kind = "message.suppressed" if status == MessageStatus.SUPPRESSED else "message.skipped"
    record(kind, actor=DISPATCHER, customer=message.customer, subject=message,
           payload={"channel": message.channel, "reason": reason[:200]})
    if status == MessageStatus.SUPPRESSED:
        stats.suppressed += 1
    else:
        stats.skipped += 1


def _window(message: Message) -> QuietHours:
    start, end = message.quiet_hours_start, message.quiet_hours_end
    if start is None or end is None:
        start, end = default_quiet_hours()
    return QuietHours(start, end, message.customer.effective_time_zone)


def outbox_claim(
    *, now: datetime | None = None, limit: int = 100, message_ids: Iterable[int] | None = None,
    stats: DispatchStats | None = None,
) -> list[Message]:
    """Claim due messages for sending: re-check each at send time, lease the rest."""
    now = now or timezone.now()
    stats = stats if stats is not None else DispatchStats()
    claimed: list[Message] = []
    held_for = lease()
    started = time.monotonic()
    with transaction.atomic():
        rows = list(_due(now, message_ids)[:limit])
        if not rows:
            return []
        decisions = consent.contact_decisions([(m.customer, m.channel, m.purpose) for m in rows], now)
        notices = _recent_notices({m.customer_id for m in rows if m.channel == Channel.SMS
                                   and m.purpose == Purpose.MARKETING}, now)
        sessions = _whatsapp_sessions({consent.address_of(m.customer, Channel.WHATSAPP) for m in rows
                                       if m.channel == Channel.WHATSAPP and not m.provider_template}, now)
        token = uuid.uuid4().hex
        plain: list[Message] = []  # leased with one UPDATE; the others changed and are saved one by one
        for message in rows:
            stored_address = message.to_address
            message.to_address = consent.address_of(message.customer, message.channel)
            decision = decisions[(message.customer_id, message.channel, message.purpose)]
            if not decision.allowed:
                _settle(message, MessageStatus.SUPPRESSED, decision.reason, stats)
                continue
            if message.expires_at is not None and now > message.expires_at:
                _settle(message, MessageStatus.SKIPPED, "Expired before it could be sent.", stats)
                continue
            window = _window(message)
            allowed_at = window.next_allowed(now)
            if allowed_at > now:
                if message.expires_at is not None and allowed_at > message.expires_at:
                    _settle(message, MessageStatus.SKIPPED, "Quiet hours last past the message's expiry.", stats)
                    continue
                message.status, message.scheduled_for = MessageStatus.DEFERRED, allowed_at
                message.save(update_fields=["status", "scheduled_for"])
                stats.deferred += 1
                continue
            if (message.channel == Channel.WHATSAPP and not message.provider_template
                    and message.to_address not in sessions):
                _settle(message, MessageStatus.SKIPPED,
                        "Outside the WhatsApp 24-hour window and no approved template.", stats)
                continue
            changed = message.to_address != stored_address
            if (message.channel == Channel.SMS and message.purpose == Purpose.MARKETING
                    and message.customer_id not in notices and not message.opt_out_notice):
                message.body = f"{message.body}\n{OPT_OUT_NOTICE}"
                message.opt_out_notice = True
                notices.add(message.customer_id)
                changed = True
            message.status = MessageStatus.SENDING
            message.lease_until = now + held_for
            message.lease_token = token
            message.attempts += 1
            message.sending_started_at = now
            message.handoff_token, message.handoff_started_at = token, None
            # Real (monotonic) time: the last moment this send may start and still end in the lease.
            message.send_by = started + held_for.total_seconds() - send_budget(message.channel)
            if changed:
                message.save(update_fields=["status", "lease_until", "lease_token", "attempts",
                                            "sending_started_at", "handoff_token", "handoff_started_at",
                                            "to_address", "body", "opt_out_notice"])
            else:
                plain.append(message)
            claimed.append(message)
        if plain:
            Message.objects.filter(pk__in=[m.pk for m in plain]).update(
                status=MessageStatus.SENDING, lease_until=now + held_for, lease_token=token,
                attempts=F("attempts") + 1, sending_started_at=now, handoff_token=token,
                handoff_started_at=None,
            )
    stats.claimed += len(claimed)
    return claimed


# --- 2. send -----------------------------------------------------------------------------------


def outgoing(message: Message) -> Outgoing:
    """What the provider needs; email carries the one-click unsubscribe headers (RFC 8058)."""
    headers: dict[str, str] = {}
    callback = ""
    if message.channel == Channel.EMAIL:
        headers = {
            "List-Unsubscribe": f"<{_unsubscribe_url(message.customer, message.purpose)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    else:
        callback = public_url(reverse("messaging:webhook_status", args=[message.channel]))
    return Outgoing(
        message_id=message.pk, channel=message.channel, to=message.to_address, body=message.body,
        subject=message.subject, body_html=message.body_html,
        provider_template=message.provider_template, provider_params=list(message.provider_params),
        idempotency_key=message.idempotency_key, headers=headers, status_callback=callback,
        attempt_started_at=message.sending_started_at,
    )


def _too_late(message: Message) -> bool:
    # Sent now, it could still be in flight when the lease ends; another worker would then find
    # it unknown, not at the provider yet, and queue it again: a duplicate.
    send_by = getattr(message, "send_by", None)
    return send_by is not None and time.monotonic() > send_by


def _released_late() -> LeaseRanOut:
    return LeaseRanOut("Released unsent: too little of the lease was left to start it.")


def outbox_handoff_begin(message: Message) -> LeaseRanOut | None:
    """Record, in its own commit, that this attempt's email hand-off starts now — right before
    the SMTP conversation, which cannot be asked about afterwards. ``None``: go ahead; otherwise
    the reason it must not be sent (the lease is spent, or the row is no longer ours)."""
    if _too_late(message):
        return _released_late()
    now = timezone.now()
    try:
        with transaction.atomic():
            ours = Message.objects.filter(
                pk=message.pk, status=MessageStatus.SENDING, lease_token=message.lease_token,
                handoff_token=message.lease_token,
            ).update(handoff_started_at=now)
    except DatabaseError as exc:  # not recorded, so not sent: a kill now must not hold it for a person
        logger.warning("could not record the hand-off of message %s: %s", message.pk, exc)
        return LeaseRanOut(f"Released unsent: the hand-off could not be recorded ({exc})")
    if not ours:
        return LeaseRanOut("Released unsent: the lease was lost before the hand-off.")
    message.handoff_started_at = now
    return None


def outbox_send(message: Message) -> Accepted | ProviderFailure:
    """Hand one claimed message to its provider; the outcome, never an exception. An email's
    hand-off is recorded first (``outbox_handoff_begin``), by the dispatching thread."""
    if _too_late(message):
        return _released_late()
    try:
        return provider_for(message.channel).send(outgoing(message))
    except ProviderFailure as exc:
        return exc
    except Exception as exc:  # a bug in a provider must not leave the row in limbo
        logger.exception("provider crashed on message %s", message.pk)
        return OutcomeUnknown(f"Provider error: {exc!r}")


# --- 3. record ---------------------------------------------------------------------------------


def _apply_outcome(message: Message, outcome: Accepted | ProviderFailure, stats: DispatchStats) -> None:
    """Store one send's outcome, only if we still hold the row (lease token fence). Runs inside
    the caller's transaction."""
    now = timezone.now()
    mine = Message.objects.filter(
        pk=message.pk, lease_token=message.lease_token,
        status__in=[MessageStatus.SENDING, MessageStatus.UNKNOWN],
    )
    if isinstance(outcome, Accepted):
        status = MessageStatus.DELIVERED if outcome.status == "delivered" else MessageStatus.SENT
        if not mine.update(status=status, provider_message_id=outcome.provider_message_id[:120],
                           sent_at=now, lease_until=None, last_error=""):
            return
        stats.sent += 1
        record("message.sent", actor=DISPATCHER, customer=message.customer, subject=message,
               payload={"channel": message.channel, "purpose": message.purpose,
                        "journey": message.journey_id, "provider_id": outcome.provider_message_id})
        return
    error = f"{outcome.code + ': ' if outcome.code else ''}{outcome.message}"[:500]
    if isinstance(outcome, LeaseRanOut):  # never attempted: due again at once, the attempt not counted
        if mine.update(status=MessageStatus.QUEUED, lease_until=None, attempts=F("attempts") - 1,
                       last_error=error):
            stats.released += 1
        return
    if isinstance(outcome, TransientFailure) and message.attempts < MAX_ATTEMPTS:
        if mine.update(status=MessageStatus.QUEUED, scheduled_for=now + backoff(message.attempts),
                       lease_until=None, last_error=error):
            stats.retried += 1
        return
    if isinstance(outcome, OutcomeUnknown):
        if mine.update(status=MessageStatus.UNKNOWN, lease_until=now + RECONCILE_EVERY, last_error=error):
            stats.unknown += 1
            record("message.unknown", actor=DISPATCHER, customer=message.customer, subject=message,
                   payload={"channel": message.channel, "error": error[:200]})
        return
    if not mine.update(status=MessageStatus.FAILED, failed_at=now, lease_until=None, last_error=error):
        return
    stats.failed += 1
    record("message.failed", actor=DISPATCHER, customer=message.customer, subject=message,
           payload={"channel": message.channel, "code": outcome.code, "error": error[:200]})
    if isinstance(outcome, PermanentFailure) and outcome.suppress:
        consent.suppression_add(channel=message.channel, address=message.to_address,
                                reason=outcome.suppress, actor=DISPATCHER, note=error[:200])


def outbox_record(
    message: Message, outcome: Accepted | ProviderFailure, stats: DispatchStats | None = None
) -> None:
    """Store one send's outcome in its own transaction (see ``_apply_outcome``)."""
    with transaction.atomic():
        _apply_outcome(message, outcome, stats if stats is not None else DispatchStats())


def _record_many(outcomes: list[tuple[Message, Accepted | ProviderFailure]], stats: DispatchStats) -> None:
    """Several outcomes in one short transaction. A crash before it commits leaves the rows
    ``sending``; their leases expire and reconciliation finds what the provider accepted."""
    with transaction.atomic():
        for message, outcome in outcomes:
            _apply_outcome(message, outcome, stats)


def outbox_dispatch(
    *, now: datetime | None = None, limit: int = 100, message_ids: Iterable[int] | None = None,
    concurrency: int | None = None,
) -> DispatchStats:
    """Claim up to ``limit`` due messages, send them, record the outcomes.

    Claims go in small chunks just ahead of the senders (at most two per sender outstanding), so
    a worker that dies strands a handful of rows, not the whole batch — a stranded email cannot
    be looked up and waits for a person — and every send starts early in its lease."""
    stats = DispatchStats()
    workers = max(1, concurrency or int(getattr(settings, "MESSAGING_SEND_CONCURRENCY", 16)))
    if limit <= 1 or (message_ids is not None and workers == 1):
        for message in outbox_claim(now=now, limit=limit, message_ids=message_ids, stats=stats):
            refused = outbox_handoff_begin(message) if message.channel == Channel.EMAIL else None
            outbox_record(message, refused or outbox_send(message), stats)
        return stats
    remaining = limit
    in_flight: dict[Future, Message] = {}
    # Claimed emails wait here, not in the pool's queue, until a sender is free: their hand-off
    # is recorded (on this thread's connection) only when the SMTP conversation starts at once.
    emails: deque[Message] = deque()
    done: list[tuple[Message, Accepted | ProviderFailure]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while True:
            outstanding = len(in_flight) + len(emails)
            if remaining > 0 and outstanding <= workers:
                settled_before = stats.suppressed + stats.skipped + stats.deferred
                batch = outbox_claim(now=now, limit=min(2 * workers - outstanding, remaining),
                                     message_ids=message_ids, stats=stats)
                settled = stats.suppressed + stats.skipped + stats.deferred - settled_before
                remaining = remaining - len(batch) - settled if batch or settled else 0
                for message in batch:
                    if message.channel == Channel.EMAIL:
                        emails.append(message)
                    else:
                        in_flight[pool.submit(outbox_send, message)] = message
            while emails and len(in_flight) < workers:  # fewer in flight than senders: one is idle
                message = emails.popleft()
                refused = outbox_handoff_begin(message)
                if refused is None:
                    in_flight[pool.submit(outbox_send, message)] = message
                else:
                    done.append((message, refused))
            if not in_flight:
                break
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            done += [(in_flight.pop(future), future.result()) for future in finished]
            # Record as answers arrive, a few per transaction, while the rest are still in flight.
            if len(done) >= min(RECORD_CHUNK, workers) or not in_flight:
                _record_many(done, stats)
                done = []
    if done:
        _record_many(done, stats)
    return stats


def outbox_drain(*, now: datetime | None = None, batch: int = 200, max_batches: int = 50) -> DispatchStats:
    """Dispatch batches until nothing is due (or ``max_batches`` ran)."""
    total = DispatchStats()
    for _ in range(max_batches):
        stats = outbox_dispatch(now=now, limit=batch)
        total.add(stats)
        if stats.claimed + stats.suppressed + stats.skipped + stats.deferred == 0:
            break
    return total


# --- leases and reconciliation -----------------------------------------------------------------


def outbox_expire_leases(*, now: datetime | None = None) -> int:
    """Rows still ``sending`` after their lease: the worker died mid-send. Mark them ``unknown`` —
    except an email whose attempt never recorded its hand-off: it was not sent, so it is queued
    again (the attempt not counted)."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            Message.objects.filter(status=MessageStatus.SENDING, lease_until__lt=now)
            .select_related("customer")[:500]
        )
        for message in stale:
            expired = Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING, lease_until__lt=now)
            if expired.filter(channel=Channel.EMAIL, handoff_token=F("lease_token"),
                              handoff_started_at__isnull=True).exclude(handoff_token="").update(
                status=MessageStatus.QUEUED, lease_until=None, attempts=F("attempts") - 1,
                last_error="Released unsent: the worker stopped before handing it over (lease expired).",
            ):
                continue
            updated = expired.update(
                status=MessageStatus.UNKNOWN, lease_until=now,
                last_error="The worker stopped while sending (lease expired); reconciling.",
            )
            if updated:
                record("message.unknown", actor=DISPATCHER, customer=message.customer, subject=message,
                       payload={"channel": message.channel, "error": "lease expired"})
    return len(stale)


def _receipts_of_others(message: Message) -> set[str]:
    """Provider ids the customer's other messages to the same address already own: two sends with
    the same text look alike at the provider, and one receipt must not settle both."""
    return set(
        Message.objects.filter(customer_id=message.customer_id, channel=message.channel,
                               to_address=message.to_address)
        .exclude(pk=message.pk).exclude(provider_message_id="")
        .values_list("provider_message_id", flat=True)
    )


def outbox_reconcile(*, now: datetime | None = None, limit: int = 100) -> DispatchStats:
    """Settle ``unknown`` rows by asking the provider: found → sent; never accepted → queued again
    (safe, it was not sent); the provider cannot tell → held for a person (not retried)."""
    now = now or timezone.now()
    stats = DispatchStats()
    with transaction.atomic():
        qs = Message.objects.filter(status=MessageStatus.UNKNOWN, lease_until__isnull=False,
                                    lease_until__lte=now)
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        rows = list(qs.select_related("customer").order_by("lease_until", "id")[:limit])
        token = uuid.uuid4().hex
        Message.objects.filter(pk__in=[m.pk for m in rows]).update(lease_token=token, lease_until=now + lease())
    for message in rows:
        message.lease_token = token
        try:
            found = provider_for(message.channel).lookup(outgoing(message), taken=_receipts_of_others(message))
        except Exception as exc:  # the provider cannot tell (or answered nonsense): a person decides
            if not isinstance(exc, ProviderFailure):
                logger.exception("provider lookup crashed on message %s", message.pk)
            reason = exc.message if isinstance(exc, ProviderFailure) else repr(exc)
            if message.handoff_started_at is not None:  # what the person deciding needs to look for
                reason += (f" Its hand-off to the {message.channel} server started at "
                           f"{message.handoff_started_at:%Y-%m-%d %H:%M:%S} UTC.")
            with transaction.atomic():
                Message.objects.filter(pk=message.pk, lease_token=token).update(
                    lease_until=None, last_error=f"Held for a person: {reason}"[:500])
            continue
        if found is not None:
            outbox_record(message, found, stats)
            continue
        with transaction.atomic():
            if Message.objects.filter(pk=message.pk, lease_token=token, status=MessageStatus.UNKNOWN).update(
                status=MessageStatus.QUEUED, scheduled_for=now, lease_until=None,
                last_error="The provider never accepted it; queued again.",
            ):
                stats.retried += 1
    return stats


@transaction.atomic
def message_resolve(*, message: Message, outcome: str, actor: Actor) -> Message:
    """A person settles an ``unknown`` message: it was ``sent``, ``resend`` it, or it ``failed``."""
    message = Message.objects.select_for_update().select_related("customer").get(pk=message.pk)
    if message.status != MessageStatus.UNKNOWN:
        raise DomainError("Only a message whose outcome is unknown can be resolved.", field="status")
    now = timezone.now()
    if outcome == "sent":
        message.status, message.sent_at = MessageStatus.SENT, now
    elif outcome == "resend":
        message.status, message.scheduled_for = MessageStatus.QUEUED, now
    elif outcome == "failed":
        message.status, message.failed_at = MessageStatus.FAILED, now
    else:
        raise DomainError("Choose sent, resend or failed.", field="outcome")
    message.lease_until = None
    message.last_error = f"Resolved as {outcome} by {actor.display}"[:500]
    message.save()
    record("message.resolved", actor=actor, customer=message.customer, subject=message,
           payload={"outcome": outcome, "channel": message.channel})
    return message


def local_time_label(message: Message) -> str:
    """"Thu 08:00" in the recipient's zone: when a deferred message will go out."""
    tz_name = message.time_zone or message.customer.effective_time_zone
    return timezone.localtime(message.scheduled_for, zoneinfo.ZoneInfo(tz_name)).strftime("%a %d %b %H:%M")
