"""Writes of the messaging app: templates, scheduling messages, inbound keywords, callbacks.

Sending itself (claiming due rows, talking to providers, reconciling) lives in ``outbox.py``; the
journey engine in ``journeys.py``; consent and suppression in ``consent.py``.
"""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from servicebay.activity.services import record
from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError
from servicebay.shop.models import Customer

from . import consent
from .choices import (
    CHANNELS,
    HELP_WORDS,
    PENDING_STATUSES,
    START_WORDS,
    STOP_WORDS,
    Channel,
    ConsentSource,
    InboundKeyword,
    MessageStatus,
    Purpose,
    SuppressionReason,
)
from .models import (
    ConsentRecord,
    InboundMessage,
    Journey,
    JourneyEnrollment,
    Message,
    MessageTemplate,
)
from .quiet_hours import quiet_hours_for
from .templating import (
    Rendered,
    TemplateInvalid,
    TemplateRenderError,
    render_variant,
    template_validate,
    template_validate_source,
)
from .variables import template_context

WHATSAPP_SESSION = timedelta(hours=24)
OPT_OUT_NOTICE_EVERY = timedelta(days=30)
OPT_OUT_NOTICE = "Reply STOP to opt out."
UNSUBSCRIBE_SALT = "servicebay.messaging.unsubscribe"

TEMPLATE_FIELDS = (
    "code", "name", "description", "purpose", "email_subject", "email_html", "email_text",
    "sms_body", "whatsapp_template_name", "whatsapp_params", "whatsapp_body", "is_active",
)


def public_url(path: str) -> str:
    """An absolute URL for links that leave the app (emails, provider callbacks)."""
    base = getattr(settings, "PUBLIC_BASE_URL", "") or "http://127.0.0.1:8000"
    return base.rstrip("/") + path


# --- templates ---------------------------------------------------------------------------------


@transaction.atomic
def message_template_create(*, actor: Actor, **fields: Any) -> MessageTemplate:
    """Create a template after validating every channel's variant."""
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    template_validate(fields)
    if MessageTemplate.objects.filter(code=fields.get("code")).exists():
        raise DomainError("Another template has this code.", field="code")
    template = MessageTemplate(updated_by=actor.label, **fields)
    template.full_clean()
    template.save()
    record("message_template.created", actor=actor, subject=template, payload={"code": template.code})
    return template


@transaction.atomic
def message_template_update(*, template: MessageTemplate, actor: Actor, **fields: Any) -> MessageTemplate:
    """Change a template; the whole result is validated again and the version goes up."""
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    merged = {name: getattr(template, name) for name in TEMPLATE_FIELDS} | fields
    template_validate(merged)
    if "code" in fields and MessageTemplate.objects.filter(code=fields["code"]).exclude(pk=template.pk).exists():
        raise DomainError("Another template has this code.", field="code")
    changed = [name for name, value in fields.items() if getattr(template, name) != value]
    if not changed:
        return template
    for name in changed:
        setattr(template, name, fields[name])
    template.version += 1
    template.updated_by = actor.label
    template.full_clean()
    template.save()
    record("message_template.updated", actor=actor, subject=template,
           payload={"code": template.code, "fields": sorted(changed), "version": template.version})
    return template


def message_template_preview(
    *, template: MessageTemplate | None = None, values: dict[str, Any] | None = None,
    customer: Customer | None = None, channel: str | None = None,
) -> dict[str, Rendered | str]:
    """Render every channel variant (or one) for a real customer, or with example values.

    ``values`` previews unsaved edits. Returns channel → ``Rendered``, or → an error text.
    """
    from .variables import sample_context

    draft = MessageTemplate(**{k: v for k, v in (values or {}).items() if k in TEMPLATE_FIELDS}) \
        if values is not None else template
    if draft is None:
        raise DomainError("Nothing to preview.", field="template")
    context = sample_context()
    if customer is not None:
        context = template_context(customer, {"unsubscribe_url": _unsubscribe_url(customer, draft.purpose)})
    out: dict[str, Rendered | str] = {}
    for ch in [channel] if channel else CHANNELS:
        if not draft.has_variant(ch):
            continue
        try:
            if values is not None:
                for name, html in _channel_sources(draft, ch):
                    template_validate_source(name[1], field=name[0], html=html)
            out[ch] = render_variant(draft, ch, context)
        except (TemplateInvalid, TemplateRenderError) as exc:
            out[ch] = exc.message
    return out


def _channel_sources(template: MessageTemplate, channel: str) -> list[tuple[tuple[str, str], bool]]:
    if channel == Channel.EMAIL:
        return [(("email_subject", template.email_subject), False), (("email_text", template.email_text), False),
                (("email_html", template.email_html), True)]
    if channel == Channel.SMS:
        return [(("sms_body", template.sms_body), False)]
    return [(("whatsapp_body", template.whatsapp_body), False)] + [
        (("whatsapp_params", p), False) for p in template.whatsapp_params
    ]


# --- scheduling a message ----------------------------------------------------------------------


def _unsubscribe_url(customer: Customer, purpose: str) -> str:
    token = signing.dumps({"c": customer.pk, "p": purpose}, salt=UNSUBSCRIBE_SALT, compress=True)
    return public_url(reverse("messaging:unsubscribe", args=[token]))


def unsubscribe_token_read(token: str) -> tuple[int, str]:
    """(customer id, purpose) of a signed unsubscribe token; ``DomainError`` if forged."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        return int(data["c"]), str(data["p"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise DomainError("This unsubscribe link is not valid.", field="token") from None


def whatsapp_in_session(customer: Customer, at: datetime) -> bool:
    """Did the customer write to us on WhatsApp in the last 24 hours (the service window)?"""
    phone = consent.address_of(customer, Channel.WHATSAPP)
    return bool(phone) and InboundMessage.objects.filter(
        channel=Channel.WHATSAPP, from_address=phone, received_at__gte=at - WHATSAPP_SESSION
    ).exists()


def _marketing_cap_reached(customer: Customer, at: datetime) -> bool:
    limit, days = getattr(settings, "MESSAGING_MARKETING_CAP", (3, 7))
    window = timedelta(days=days)
    return Message.objects.filter(
        customer=customer, purpose=Purpose.MARKETING,
        status__in=[*PENDING_STATUSES, MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED],
        scheduled_for__gt=at - window, scheduled_for__lt=at + window,
    ).count() >= limit


@dataclass
class _Choice:
    channel: str
    rendered: Rendered | None
    reason: str


def _choose_channel(
    *, customer: Customer, purpose: str, template: MessageTemplate | None, text: str, subject: str,
    channels: list[str] | None, context: dict, at: datetime,
) -> _Choice:
    """The first channel, in the customer's order, with consent and something to send on it."""
    order = [c for c in consent.channel_order(customer) if not channels or c in channels]
    decisions = consent.contact_decisions([(customer, c, purpose) for c in order], at)
    reasons: list[str] = []
    render_error = ""
    for ch in order:
        decision = decisions[(customer.pk, ch, purpose)]
        if not decision.allowed:
            reasons.append(f"{Channel(ch).label}: {decision.reason}")
            continue
        in_session = ch == Channel.WHATSAPP and whatsapp_in_session(customer, at)
        if template is not None:
            if not template.has_variant(ch):
                reasons.append(f"{Channel(ch).label}: no {Channel(ch).label} version of the template")
                continue
            if ch == Channel.WHATSAPP and not template.whatsapp_template_name and not in_session:
                reasons.append("WhatsApp: outside the 24-hour window and no approved template")
                continue
            try:
                return _Choice(ch, render_variant(template, ch, context, in_session=in_session), "")
            except TemplateRenderError as exc:
                render_error = render_error or exc.message
                reasons.append(f"{Channel(ch).label}: {exc.message}")
                continue
        if ch == Channel.WHATSAPP and not in_session:
            reasons.append("WhatsApp: free text only inside the 24-hour window")
            continue
        from .templating import render_text

        try:
            body = render_text(text, context)
            subj = render_text(subject, context) if subject else ""
        except TemplateRenderError as exc:
            return _Choice(ch, None, exc.message)
        if ch == Channel.EMAIL:
            return _Choice(ch, Rendered(ch, subject=subj or "A message from your service shop", body=body), "")
        return _Choice(ch, Rendered(ch, body=body), "")
    if not order:
        return _Choice(customer.preferred_channel, None, "No channel allowed for this message.")
    return _Choice(order[0], None, render_error or "No channel with consent: " + "; ".join(reasons))


def message_build(
    *,
    customer: Customer,
    purpose: str,
    actor: Actor,
    template: MessageTemplate | None = None,
    text: str = "",
    subject: str = "",
    channel: str | None = None,
    channels: list[str] | None = None,
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    journey: Journey | None = None,
    enrollment: JourneyEnrollment | None = None,
    step_index: int | None = None,
    trigger_key: str = "",
    idempotency_key: str | None = None,
    refs: dict[str, Any] | None = None,
) -> Message:
    """Decide everything about one message without saving it: channel (preference, then consent,
    then what the template offers), rendered content, when (out of the recipient's quiet hours),
    or why it cannot go out (``skipped`` with a reason). Dry runs use this directly."""
    if purpose not in Purpose.values:
        raise DomainError(f"Unknown purpose {purpose!r}.", field="purpose")
    if channel is not None and channel not in CHANNELS:
        raise DomainError(f"Unknown channel {channel!r}.", field="channel")
    if template is None and not text.strip():
        raise DomainError("Choose a template or write a message.", field="text")
    if journey is not None:
        idempotency_key = f"j{journey.pk}:s{step_index}:c{customer.pk}:t{trigger_key}"
    now = timezone.now()
    due_at = max(due_at or now, now)
    status, reason = MessageStatus.QUEUED, ""
    refs = dict(refs or {})
    refs["unsubscribe_url"] = _unsubscribe_url(customer, purpose)
    context = template_context(customer, refs, now=due_at)
    choice = _choose_channel(
        customer=customer, purpose=purpose, template=template, text=text, subject=subject,
        channels=[channel] if channel else channels, context=context, at=due_at,
    )
    rendered = choice.rendered or Rendered(choice.channel)
    window = quiet_hours_for(customer, journey)
    scheduled_for = window.next_allowed(due_at)
    if choice.rendered is None:
        status, reason = MessageStatus.SKIPPED, choice.reason
    elif expires_at is not None and scheduled_for > expires_at:
        local = timezone.localtime(scheduled_for, zoneinfo.ZoneInfo(window.tz_name))
        status = MessageStatus.SKIPPED
        reason = f"Quiet hours until {local:%a %H:%M}, after the message expires."
    elif purpose == Purpose.MARKETING and journey is not None and _marketing_cap_reached(customer, scheduled_for):
        status, reason = MessageStatus.SKIPPED, "Frequency cap: enough marketing messages this week."
    elif scheduled_for > due_at:
        status = MessageStatus.DEFERRED
    return Message(
        customer=customer, channel=choice.channel, purpose=purpose, template=template, journey=journey,
        enrollment=enrollment, step_index=step_index, trigger_key=trigger_key,
        idempotency_key=idempotency_key or f"manual:{uuid.uuid4().hex}",
        to_address=consent.address_of(customer, choice.channel),
        subject=rendered.subject, body=rendered.body, body_html=rendered.body_html,
        provider_template=rendered.provider_template, provider_params=rendered.provider_params,
        status=status, scheduled_for=scheduled_for if status != MessageStatus.SKIPPED else due_at,
        expires_at=expires_at, quiet_hours_start=window.start, quiet_hours_end=window.end,
        time_zone=window.tz_name, skip_reason=reason[:300], created_by=actor.label,
    )


@transaction.atomic
def message_schedule(*, actor: Actor, idempotency_key: str | None = None, **kwargs: Any) -> Message:
    """Put one message in the outbox, at most once per idempotency key (see ``message_build``
    for how it is decided). A message that cannot go out is stored ``skipped`` with its reason,
    so history shows every decision."""
    journey, customer = kwargs.get("journey"), kwargs["customer"]
    if journey is not None:
        idempotency_key = f"j{journey.pk}:s{kwargs.get('step_index')}:c{customer.pk}:t{kwargs.get('trigger_key', '')}"
    if idempotency_key:
        existing = Message.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    message = message_build(actor=actor, idempotency_key=idempotency_key, **kwargs)
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return Message.objects.get(idempotency_key=message.idempotency_key)
    status = message.status
    kind = "message.skipped" if status == MessageStatus.SKIPPED else "message.scheduled"
    record(kind, actor=actor, customer=customer, subject=message, payload={
        "channel": message.channel, "purpose": message.purpose, "status": status,
        "scheduled_for": message.scheduled_for.isoformat(),
        "template": message.template.code if message.template else "",
        "journey": journey.code if journey else "", "reason": message.skip_reason[:200],
    })
    return message


@transaction.atomic
def message_send_now(
    *,
    customer: Customer,
    actor: Actor,
    template: MessageTemplate | None = None,
    text: str = "",
    subject: str = "",
    channel: str | None = None,
    purpose: str = Purpose.TRANSACTIONAL,
    idempotency_key: str | None = None,
) -> Message:
    """Send a message to one customer now (staff action): a template or free text, on the given
    channel or the best one by preference and consent. Quiet hours still apply — the message is
    then deferred, and the answer says until when. Dispatch runs after commit."""
    if template is not None and not template.is_active:
        raise DomainError("This template is switched off.", field="template_id")
    if text:
        template_validate_source(text, field="text")
        if subject:
            template_validate_source(subject, field="subject")
    message = message_schedule(
        customer=customer, purpose=purpose, actor=actor, template=template, text=text,
        subject=subject, channel=channel, idempotency_key=idempotency_key,
    )
    if message.status == MessageStatus.QUEUED:
        from .tasks import message_dispatch

        message_id = message.pk
        transaction.on_commit(lambda: message_dispatch.enqueue(message_id), robust=True)
    return message


@transaction.atomic
def message_cancel(*, message: Message, actor: Actor, reason: str = "Cancelled by staff") -> Message:
    """Cancel a message that has not gone out yet."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.status not in PENDING_STATUSES:
        raise DomainError(f"A {message.get_status_display().lower()} message cannot be cancelled.",
                          field="status")
    message.status, message.skip_reason = MessageStatus.CANCELLED, reason[:300]
    message.save(update_fields=["status", "skip_reason"])
    record("message.cancelled", actor=actor, customer=message.customer, subject=message,
           payload={"channel": message.channel, "reason": reason[:200]})
    return message


# --- inbound: keywords, unsubscribe links, delivery callbacks ----------------------------------


def keyword_of(body: str) -> str:
    """STOP / START / HELP when the whole message is one of the usual keywords."""
    word = "".join(ch for ch in (body or "").strip().upper() if ch.isalnum())
    if word in STOP_WORDS:
        return InboundKeyword.STOP
    if word in START_WORDS:
        return InboundKeyword.START
    if word in HELP_WORDS:
        return InboundKeyword.HELP
    return InboundKeyword.NONE


def _shop_name() -> str:
    return getattr(settings, "MESSAGING_SENDER_NAME", "ServiceBay")


REPLIES = {
    InboundKeyword.STOP: "You are unsubscribed from {shop} messages and will not receive more. Reply START to resubscribe.",
    InboundKeyword.START: "You are resubscribed to {shop} messages. Reply STOP to opt out, HELP for help.",
    InboundKeyword.HELP: "{shop}: service reminders and updates. Msg&data rates may apply. Reply STOP to opt out.",
}


@dataclass
class InboundResult:
    inbound: InboundMessage
    keyword: str
    reply: str
    customers: list[Customer]


def _marketing_before_stop(customer: Customer, channel: str) -> bool:
    """Was marketing granted on ``channel`` when the customer texted STOP?"""
    statements = ConsentRecord.objects.filter(customer=customer, channel=channel, purpose=Purpose.MARKETING)
    stop = statements.filter(source=ConsentSource.STOP_KEYWORD).order_by("-recorded_at", "-id").first()
    if stop is None:
        return False
    before = (
        statements.exclude(source=ConsentSource.STOP_KEYWORD)
        .filter(Q(recorded_at__lt=stop.recorded_at) | Q(recorded_at=stop.recorded_at, pk__lt=stop.pk))
        .order_by("-recorded_at", "-id").first()
    )
    return bool(before and before.granted)


@transaction.atomic
def inbound_receive(
    *, channel: str, from_address: str, body: str, to_address: str = "", provider_message_id: str = "",
) -> InboundResult:
    """A customer wrote to us. STOP suppresses the number and records the opt-out for every
    customer with it; START undoes that (the only way); HELP gets the help text."""
    if channel not in (Channel.SMS, Channel.WHATSAPP):
        raise DomainError("Inbound messages come by SMS or WhatsApp.", field="channel")
    number = consent.normalize_address(channel, from_address)
    if provider_message_id:
        seen = InboundMessage.objects.filter(channel=channel, provider_message_id=provider_message_id).first()
        if seen is not None:
            return InboundResult(seen, seen.keyword, "", [])
    keyword = keyword_of(body)
    inbound = InboundMessage.objects.create(
        channel=channel, from_address=number, to_address=to_address[:64], body=body[:2000],
        keyword=keyword, provider_message_id=provider_message_id[:120],
    )
    customers = list(Customer.objects.filter(phone=number).select_related("home_location"))
    actor = Actor.system(f"inbound:{keyword or 'message'}")
    if keyword == InboundKeyword.STOP:
        consent.suppression_add(channel=channel, address=number, reason=SuppressionReason.OPT_OUT,
                                actor=actor, note=f"{body.strip()[:40]} received")
        for customer in customers:
            for purpose in Purpose.values:
                consent.consent_record(customer=customer, channel=channel, purpose=purpose, granted=False,
                                       source=ConsentSource.STOP_KEYWORD, actor=actor,
                                       note=f"Texted {body.strip()[:20]}")
    elif keyword == InboundKeyword.START:
        suppression = consent.suppression_active(channel, number)
        if suppression is not None and suppression.reason == SuppressionReason.OPT_OUT:
            consent.suppression_lift(suppression=suppression, actor=actor, by_customer=True)
        for customer in customers:
            restore_marketing = consent.stop_in_force(customer, channel) and _marketing_before_stop(customer, channel)
            consent.consent_record(customer=customer, channel=channel, purpose=Purpose.TRANSACTIONAL,
                                   granted=True, source=ConsentSource.START_KEYWORD, actor=actor,
                                   note=f"Texted {body.strip()[:20]}")
            if restore_marketing:
                consent.consent_record(customer=customer, channel=channel, purpose=Purpose.MARKETING,
                                       granted=True, source=ConsentSource.START_KEYWORD, actor=actor,
                                       note="Restored by START")
    for customer in customers:
        record("message.received", actor=actor, customer=customer, subject=inbound,
               payload={"channel": channel, "keyword": keyword, "excerpt": body.strip()[:140]})
    reply = REPLIES.get(keyword, "").format(shop=_shop_name())
    return InboundResult(inbound, keyword, reply, customers)


@transaction.atomic
def unsubscribe_via_link(*, token: str) -> ConsentRecord:
    """The one-click unsubscribe of an email: withdraw email consent for the token's purpose."""
    customer_id, purpose = unsubscribe_token_read(token)
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or purpose not in Purpose.values:
        raise DomainError("This unsubscribe link is not valid.", field="token")
    return consent.consent_record(
        customer=customer, channel=Channel.EMAIL, purpose=purpose, granted=False,
        source=ConsentSource.UNSUBSCRIBE_LINK, actor=Actor.system("unsubscribe-link"),
        note="One-click unsubscribe",
    )


# Twilio's delivery statuses → ours. "sent"/"queued"/"accepted" add nothing to what we know.
_CALLBACK_STATUS = {
    "delivered": MessageStatus.DELIVERED, "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED, "failed": MessageStatus.FAILED,
}


@transaction.atomic
def message_status_callback(
    *, channel: str, provider_message_id: str, status: str, error_code: str = ""
) -> Message | None:
    """Record a provider's delivery report. Statuses only move forward; a 21610 suppresses."""
    message = (
        Message.objects.select_for_update(of=("self",)).select_related("customer")
        .filter(channel=channel, provider_message_id=provider_message_id).first()
    )
    target = _CALLBACK_STATUS.get((status or "").lower())
    if message is None or target is None:
        return message
    if message.status in (MessageStatus.DELIVERED, MessageStatus.FAILED):
        return message
    now = timezone.now()
    actor = Actor.system(f"{channel}-callback")
    message.status = target
    if target == MessageStatus.DELIVERED:
        message.delivered_at = now
        message.save(update_fields=["status", "delivered_at"])
        record("message.delivered", actor=actor, customer=message.customer, subject=message,
               payload={"channel": channel})
        return message
    message.failed_at = now
    message.last_error = f"Provider reported {status} ({error_code or 'no code'})"[:500]
    message.save(update_fields=["status", "failed_at", "last_error"])
    record("message.failed", actor=actor, customer=message.customer, subject=message,
           payload={"channel": channel, "code": error_code})
    if error_code == "21610":
        consent.suppression_add(channel=channel, address=message.to_address,
                                reason=SuppressionReason.OPT_OUT, actor=actor,
                                note="Provider: recipient unsubscribed (21610)")
    return message
