"""Messaging endpoints: consent, suppressions, templates, journeys, messages. Thin: check the
permission, parse, call a service or selector."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Header, Query, Router, Status

from servicebay.core.api_auth import actor_of, require
from servicebay.core.errors import DomainError
from servicebay.core.pagination import keyset_page
from servicebay.core.schemas import ERRORS
from servicebay.shop.models import Customer

from . import consent, journeys, outbox, selectors, services
from .choices import CHANNELS, Purpose
from .models import ConsentRecord, Journey, Message, MessageTemplate, Suppression
from .schemas import (
    AttributionOut,
    ConsentIn,
    ConsentRecordOut,
    ConsentRecordPage,
    ConsentStateOut,
    DryRunRowOut,
    JourneyIn,
    JourneyOut,
    JourneyPage,
    JourneyPatch,
    MessageOut,
    MessagePage,
    PreferencesIn,
    RenderedOut,
    ResolveIn,
    SendIn,
    SmsSizeIn,
    SmsSizeOut,
    SuppressionIn,
    SuppressionOut,
    SuppressionPage,
    TemplateIn,
    TemplateOut,
    TemplatePage,
    TemplatePatch,
    TemplatePreviewIn,
    VariableOut,
)
from .sms import sms_size
from .templating import Rendered
from .variables import CATALOGUE

router = Router(tags=["messaging"])
Limit = Query(50, ge=1, le=200, description="Page size.")


def _page(qs, *, order, cursor, limit, scope) -> dict:
    page = keyset_page(qs, order=order, cursor=cursor, limit=limit, scope=scope)
    return {"items": page.items, "next_cursor": page.next_cursor}


def _customer(customer_id: int) -> Customer:
    return get_object_or_404(Customer.objects.select_related("home_location"), pk=customer_id)


# --- consent -----------------------------------------------------------------------------------


def _consent_out(customer: Customer) -> dict:
    state = consent.consent_state(customer)
    return {
        "customer_id": customer.pk,
        "channel_order": consent.channel_order(customer),
        "channels": [
            {"channel": ch, "address": state[(ch, Purpose.TRANSACTIONAL)].address,
             "transactional": {**asdict(state[(ch, Purpose.TRANSACTIONAL)]),
                               "label": state[(ch, Purpose.TRANSACTIONAL)].label},
             "marketing": {**asdict(state[(ch, Purpose.MARKETING)]), "label": state[(ch, Purpose.MARKETING)].label}}
            for ch in CHANNELS
        ],
    }


@router.get("/customers/{customer_id}/consent", response={200: ConsentStateOut, **ERRORS}, tags=["consent"])
def consent_get(request: HttpRequest, customer_id: int):
    """Consent per channel and purpose, with whether we may contact and why not."""
    require(request, "messaging.view")
    return _consent_out(_customer(customer_id))


@router.post("/customers/{customer_id}/consent", response={201: ConsentRecordOut, **ERRORS}, tags=["consent"])
def consent_record(request: HttpRequest, customer_id: int, payload: ConsentIn):
    """Append a consent statement. A grant over a STOP keyword is refused (422)."""
    require(request, "messaging.send")
    record = consent.consent_record(customer=_customer(customer_id), actor=actor_of(request), **payload.dict())
    return Status(201, record)


@router.get("/customers/{customer_id}/consent/history", response={200: ConsentRecordPage, **ERRORS},
            tags=["consent"])
def consent_history(request: HttpRequest, customer_id: int, cursor: str | None = None, limit: int = Limit):
    require(request, "messaging.view")
    _customer(customer_id)
    return _page(ConsentRecord.objects.filter(customer_id=customer_id), order=("-recorded_at", "-id"),
                 cursor=cursor, limit=limit, scope=f"consent:{customer_id}")


@router.put("/customers/{customer_id}/contact-preferences", response={200: ConsentStateOut, **ERRORS},
            tags=["consent"])
def preferences_set(request: HttpRequest, customer_id: int, payload: PreferencesIn):
    require(request, "messaging.send")
    customer = _customer(customer_id)
    consent.contact_preference_set(customer=customer, channel_order=list(payload.channel_order),
                                   actor=actor_of(request))
    return _consent_out(_customer(customer_id))


@router.get("/suppressions", response={200: SuppressionPage, **ERRORS}, tags=["consent"])
def suppression_list(request: HttpRequest, q: str = Query("", max_length=100), cursor: str | None = None,
                     limit: int = Limit):
    require(request, "messaging.view")
    return _page(selectors.suppression_list(query=q), order=("-created_at", "-id"), cursor=cursor,
                 limit=limit, scope="suppressions")


@router.post("/suppressions", response={201: SuppressionOut, **ERRORS}, tags=["consent"])
def suppression_add(request: HttpRequest, payload: SuppressionIn):
    require(request, "messaging.manage")
    return Status(201, consent.suppression_add(actor=actor_of(request), **payload.dict()))


@router.post("/suppressions/{suppression_id}/lift", response={200: SuppressionOut, **ERRORS}, tags=["consent"])
def suppression_lift(request: HttpRequest, suppression_id: int):
    """Lift a bounce or manual suppression (opt-outs and complaints: 422)."""
    require(request, "messaging.manage")
    return consent.suppression_lift(suppression=get_object_or_404(Suppression, pk=suppression_id),
                                    actor=actor_of(request))


# --- templates ---------------------------------------------------------------------------------


@router.get("/message-templates", response={200: TemplatePage, **ERRORS}, tags=["message templates"])
def template_list(request: HttpRequest, cursor: str | None = None, limit: int = Limit):
    require(request, "messaging.view")
    return _page(MessageTemplate.objects.all(), order=("id",), cursor=cursor, limit=limit, scope="templates")


@router.get("/message-templates/variables", response={200: dict[str, list[VariableOut]], **ERRORS},
            tags=["message templates"])
def template_variables(request: HttpRequest):
    """The variable catalogue templates may use: ``{{ customer.first_name }}`` …"""
    require(request, "messaging.view")
    return {ns: [{"name": f"{ns}.{name}", "description": v.description, "example": v.example}
                 for name, v in fields.items()] for ns, fields in CATALOGUE.items()}


@router.post("/message-templates", response={201: TemplateOut, **ERRORS}, tags=["message templates"])
def template_create(request: HttpRequest, payload: TemplateIn):
    """Create a template; unknown variables, syntax errors and unsafe constructs are a 422."""
    require(request, "messaging.manage")
    return Status(201, services.message_template_create(actor=actor_of(request), **payload.dict()))


@router.get("/message-templates/{template_id}", response={200: TemplateOut, **ERRORS}, tags=["message templates"])
def template_get(request: HttpRequest, template_id: int):
    require(request, "messaging.view")
    return get_object_or_404(MessageTemplate, pk=template_id)


@router.patch("/message-templates/{template_id}", response={200: TemplateOut, **ERRORS},
              tags=["message templates"])
def template_update(request: HttpRequest, template_id: int, payload: TemplatePatch):
    require(request, "messaging.manage")
    template = get_object_or_404(MessageTemplate, pk=template_id)
    fields = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return services.message_template_update(template=template, actor=actor_of(request), **fields)


def _rendered(channel: str, result: Rendered | str) -> dict:
    if isinstance(result, str):
        return {"channel": channel, "ok": False, "error": result}
    return {"ok": True, **asdict(result)}


@router.post("/message-templates/{template_id}/preview", response={200: list[RenderedOut], **ERRORS},
             tags=["message templates"])
def template_preview(request: HttpRequest, template_id: int, payload: TemplatePreviewIn):
    """Render every channel for a real customer (or with example values)."""
    require(request, "messaging.view")
    template = get_object_or_404(MessageTemplate, pk=template_id)
    customer = None
    if payload.customer_id is not None:
        customer = Customer.objects.select_related("home_location").filter(pk=payload.customer_id).first()
        if customer is None:
            raise DomainError(f"No customer with id {payload.customer_id}.", field="customer_id")
    previews = services.message_template_preview(template=template, customer=customer)
    return [_rendered(ch, result) for ch, result in previews.items()]


@router.post("/messaging/sms-size", response={200: SmsSizeOut, **ERRORS}, tags=["message templates"])
def sms_segments(request: HttpRequest, payload: SmsSizeIn):
    """Characters, encoding (GSM-7 or UCS-2) and segments of an SMS text."""
    require(request, "messaging.view")
    return asdict(sms_size(payload.text))


# --- journeys ----------------------------------------------------------------------------------


@router.get("/journeys", response={200: JourneyPage, **ERRORS}, tags=["journeys"])
def journey_list(request: HttpRequest, cursor: str | None = None, limit: int = Limit):
    require(request, "messaging.view")
    return _page(Journey.objects.all(), order=("id",), cursor=cursor, limit=limit, scope="journeys")


@router.post("/journeys", response={201: JourneyOut, **ERRORS}, tags=["journeys"])
def journey_create(request: HttpRequest, payload: JourneyIn):
    """Create a journey (switched off). The definition is validated: trigger, steps, templates."""
    require(request, "messaging.manage")
    return Status(201, journeys.journey_create(actor=actor_of(request), **payload.dict()))


@router.get("/journeys/{journey_id}", response={200: JourneyOut, **ERRORS}, tags=["journeys"])
def journey_get(request: HttpRequest, journey_id: int):
    require(request, "messaging.view")
    return get_object_or_404(Journey, pk=journey_id)


@router.patch("/journeys/{journey_id}", response={200: JourneyOut, **ERRORS}, tags=["journeys"])
def journey_update(request: HttpRequest, journey_id: int, payload: JourneyPatch):
    require(request, "messaging.manage")
    journey = get_object_or_404(Journey, pk=journey_id)
    # null clears the quiet-hours override; for every other field it means "unchanged".
    fields = {k: v for k, v in payload.dict(exclude_unset=True).items()
              if v is not None or k in ("quiet_hours_start", "quiet_hours_end")}
    return journeys.journey_update(journey=journey, actor=actor_of(request), **fields)


@router.post("/journeys/{journey_id}/activate", response={200: JourneyOut, **ERRORS}, tags=["journeys"])
def journey_activate(request: HttpRequest, journey_id: int):
    require(request, "messaging.manage")
    return journeys.journey_set_active(journey=get_object_or_404(Journey, pk=journey_id), active=True,
                                       actor=actor_of(request))


@router.post("/journeys/{journey_id}/deactivate", response={200: JourneyOut, **ERRORS}, tags=["journeys"])
def journey_deactivate(request: HttpRequest, journey_id: int):
    """Switch off; what the journey scheduled and has not sent is cancelled."""
    require(request, "messaging.manage")
    return journeys.journey_set_active(journey=get_object_or_404(Journey, pk=journey_id), active=False,
                                       actor=actor_of(request))


@router.get("/journeys/{journey_id}/dry-run", response={200: list[DryRunRowOut], **ERRORS}, tags=["journeys"])
def journey_dry_run(request: HttpRequest, journey_id: int, days: int = Query(7, ge=1, le=31)):
    """Who would get what, when, over the next days. Nothing is written."""
    require(request, "messaging.view")
    rows = journeys.journey_dry_run(journey=get_object_or_404(Journey, pk=journey_id), days=days)
    return [{"customer_id": r.customer.pk, "customer": r.customer.full_name, "when": r.when, "channel": r.channel,
             "status": r.status, "reason": r.reason, "template": r.template, "preview": r.preview} for r in rows]


@router.get("/journeys/{journey_id}/attribution", response={200: AttributionOut, **ERRORS}, tags=["journeys"])
def journey_attribution(request: HttpRequest, journey_id: int):
    """Bookings and revenue after the journey, against its hold-out group."""
    require(request, "messaging.view")
    result = journeys.journey_attribution(journey=get_object_or_404(Journey, pk=journey_id))

    def group(g):
        return {"customers": g.customers, "booked": g.booked, "revenue": str(g.revenue),
                "booking_rate": g.booking_rate}

    incremental = result.incremental_revenue
    return {"days": result.days, "treated": group(result.treated), "control": group(result.control),
            "lift": result.lift, "incremental_revenue": str(incremental) if incremental is not None else None}


# --- messages ----------------------------------------------------------------------------------


@router.get("/messages", response={200: MessagePage, **ERRORS}, tags=["messages"])
def message_list(
    request: HttpRequest,
    customer_id: int | None = None,
    journey_id: int | None = None,
    status: str | None = Query(None, max_length=12),
    channel: str | None = Query(None, max_length=10),
    cursor: str | None = None,
    limit: int = Limit,
):
    require(request, "messaging.view")
    qs = selectors.message_list(status=status, channel=channel, customer_id=customer_id, journey_id=journey_id)
    return _page(qs.select_related("customer__home_location"), order=("-created_at", "-id"), cursor=cursor,
                 limit=limit, scope=f"messages:{customer_id}:{journey_id}:{status}:{channel}")


@router.get("/messages/{message_id}", response={200: MessageOut, **ERRORS}, tags=["messages"])
def message_get(request: HttpRequest, message_id: int):
    require(request, "messaging.view")
    return get_object_or_404(Message.objects.select_related("customer__home_location"), pk=message_id)


@router.post("/customers/{customer_id}/messages", response={201: MessageOut, **ERRORS}, tags=["messages"])
def message_send(request: HttpRequest, customer_id: int, payload: SendIn,
                 idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=100)):
    """Send now: a template or free text, on the channel given or the best one by preference and
    consent. Quiet hours defer it (see ``status`` and ``scheduled_for_local``); without a channel
    with consent it is ``skipped`` with the reason. Repeat with the same ``Idempotency-Key`` to
    get the same message back."""
    require(request, "messaging.send")
    customer = _customer(customer_id)
    template = None
    if payload.template_id is not None:
        template = MessageTemplate.objects.filter(pk=payload.template_id).first()
        if template is None:
            raise DomainError(f"No template with id {payload.template_id}.", field="template_id")
    key = f"api:{actor_of(request).label}:{idempotency_key}" if idempotency_key else None
    message = services.message_send_now(
        customer=customer, actor=actor_of(request), template=template, text=payload.text,
        subject=payload.subject, channel=payload.channel, purpose=payload.purpose, idempotency_key=key,
    )
    return Status(201, Message.objects.select_related("customer__home_location").get(pk=message.pk))


@router.post("/messages/{message_id}/cancel", response={200: MessageOut, **ERRORS}, tags=["messages"])
def message_cancel(request: HttpRequest, message_id: int):
    require(request, "messaging.send")
    message = services.message_cancel(message=get_object_or_404(Message, pk=message_id), actor=actor_of(request))
    return Message.objects.select_related("customer__home_location").get(pk=message.pk)


@router.post("/messages/{message_id}/resolve", response={200: MessageOut, **ERRORS}, tags=["messages"])
def message_resolve(request: HttpRequest, message_id: int, payload: ResolveIn):
    """Settle a message whose outcome is unknown: it was sent, resend it, or it failed."""
    require(request, "messaging.manage")
    message = outbox.message_resolve(message=get_object_or_404(Message, pk=message_id), outcome=payload.outcome,
                                     actor=actor_of(request))
    return Message.objects.select_related("customer__home_location").get(pk=message.pk)
