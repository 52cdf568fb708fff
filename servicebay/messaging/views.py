"""Messaging screens, the public unsubscribe page and the provider webhooks. Thin: parse with a
form, call a service or selector, render (a partial for htmx)."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError
from servicebay.core.pagination import InvalidCursor, keyset_page
from servicebay.core.roles import user_can
from servicebay.core.views import form_add_domain_error, permission_required
from servicebay.shop.selectors import customer_search

from . import consent, journeys, outbox, selectors, services
from .choices import Channel, MessageStatus
from .definitions import describe_step, describe_trigger, parse_definition
from .forms import (
    ConsentForm,
    JourneyForm,
    MessageTemplateForm,
    OutboxFilterForm,
    PreferenceForm,
    SendMessageForm,
    SuppressionForm,
)
from .models import Journey, Message, MessageTemplate, Suppression
from .providers.twilio import signature_valid
from .sms import sms_size
from .variables import CATALOGUE

WriteError = (DomainError, ValidationError)


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


# --- overview ----------------------------------------------------------------------------------


@require_GET
@permission_required("messaging.view")
def index(request: HttpRequest) -> HttpResponse:
    journey_rows = list(selectors.journey_list())
    stats = journeys.journey_stats([j.pk for j in journey_rows])
    for journey in journey_rows:
        try:
            journey.trigger_text = describe_trigger(parse_definition(journey.definition).trigger)
        except DomainError:
            journey.trigger_text = "Invalid definition"
        journey.stats = stats.get(journey.pk, {})
    return render(request, "messaging/index.html", {
        "journeys": journey_rows,
        "templates": selectors.message_template_list(),
        "counts": selectors.outbox_counts(),
        "unknown": selectors.message_list(status=MessageStatus.UNKNOWN).order_by("-created_at")[:20],
    })


# --- templates ---------------------------------------------------------------------------------


def _template_page(request: HttpRequest, form: MessageTemplateForm, template: MessageTemplate | None,
                   status: int = 200) -> HttpResponse:
    sms_text = form["sms_body"].value() or ""
    return render(request, "messaging/template_form.html", {
        "form": form, "template": template, "catalogue": CATALOGUE, "sms": sms_size(sms_text),
        "can_manage": user_can(request.user, "messaging.manage"),
    }, status=status)


@require_http_methods(["GET", "POST"])
@permission_required("messaging.manage")
def template_create(request: HttpRequest) -> HttpResponse:
    form = MessageTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.message_template_create(actor=_actor(request), **form.values())
        except WriteError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"Template “{template.name}” saved.")
            return redirect("messaging:template_edit", template.pk)
    return _template_page(request, form, None, status=422 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@permission_required("messaging.view")
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=pk)
    if request.method == "GET":
        return _template_page(request, MessageTemplateForm(initial=MessageTemplateForm.initial_from(template)),
                              template)
    if not user_can(request.user, "messaging.manage"):
        return HttpResponseForbidden("This needs the 'messaging.manage' permission.")
    form = MessageTemplateForm(request.POST)
    if form.is_valid():
        try:
            services.message_template_update(template=template, actor=_actor(request), **form.values())
        except WriteError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, "Template saved.")
            return redirect("messaging:template_edit", template.pk)
    return _template_page(request, form, template, status=422)


@require_POST
@permission_required("messaging.view")
def template_sms_count(request: HttpRequest) -> HttpResponse:
    """The live SMS counter (htmx, on every keystroke pause)."""
    return render(request, "messaging/partials/sms_counter.html",
                  {"sms": sms_size(request.POST.get("sms_body", "").replace("\r\n", "\n"))})


@require_POST
@permission_required("messaging.view")
def template_preview(request: HttpRequest) -> HttpResponse:
    """Render the template being edited for a chosen real customer (or example values)."""
    values = {name: request.POST.get(name, "").replace("\r\n", "\n").strip()
              for name in MessageTemplateForm.FIELDS if name not in ("is_active", "whatsapp_params")}
    values["whatsapp_params"] = [line.strip() for line in request.POST.get("whatsapp_params", "").splitlines()
                                 if line.strip()]
    customer = None
    customer_id = request.POST.get("preview_customer") or ""
    if customer_id.isdigit():
        customer = selectors.customer_for_messaging(customer_id=int(customer_id))
    previews = services.message_template_preview(values=values, customer=customer)
    return render(request, "messaging/partials/template_preview.html",
                  {"previews": previews, "preview_customer": customer})


@require_GET
@permission_required("messaging.view")
def template_customer_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("preview_q", "").strip()[:100]
    results = list(customer_search(query=query)[:8]) if len(query) >= 2 else []
    return render(request, "messaging/partials/customer_choices.html", {"results": results, "query": query})


# --- journeys ----------------------------------------------------------------------------------


def _journey_page(request: HttpRequest, form: JourneyForm, journey: Journey | None, status: int = 200) -> HttpResponse:
    steps, trigger = [], ""
    if journey is not None:
        try:
            definition = parse_definition(journey.definition)
            steps = [describe_step(s) for s in definition.steps]
            trigger = describe_trigger(definition.trigger)
        except DomainError:
            trigger = "Invalid definition"
    context = {
        "form": form, "journey": journey, "steps": steps, "trigger": trigger,
        "templates": selectors.message_template_list(),
        "can_manage": user_can(request.user, "messaging.manage"),
    }
    if journey is not None:
        context["stats"] = journeys.journey_stats([journey.pk]).get(journey.pk, {})
        context["enrollments"] = selectors.enrollment_list(journey_id=journey.pk, limit=20)
        context["attribution"] = journeys.journey_attribution(journey=journey)
    return render(request, "messaging/journey_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@permission_required("messaging.manage")
def journey_create(request: HttpRequest) -> HttpResponse:
    initial = {"definition": json.dumps({
        "trigger": {"type": "event", "event": "visit.checked_out"},
        "steps": [{"type": "wait", "days": 2, "at_local_time": "10:00"},
                  {"type": "send", "template": "post-service-follow-up", "purpose": "transactional"}],
    }, indent=2)}
    form = JourneyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            journey = journeys.journey_create(actor=_actor(request), **form.cleaned_data)
        except WriteError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"Journey “{journey.name}” created. Switch it on when ready.")
            return redirect("messaging:journey_detail", journey.pk)
    return _journey_page(request, form, None, status=422 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@permission_required("messaging.view")
def journey_detail(request: HttpRequest, pk: int) -> HttpResponse:
    journey = get_object_or_404(Journey, pk=pk)
    if request.method == "GET":
        initial = {name: getattr(journey, name) for name in
                   ("name", "code", "description", "quiet_hours_start", "quiet_hours_end", "holdout_percent",
                    "attribution_days")}
        initial["definition"] = json.dumps(journey.definition, indent=2)
        return _journey_page(request, JourneyForm(initial=initial), journey)
    if not user_can(request.user, "messaging.manage"):
        return HttpResponseForbidden("This needs the 'messaging.manage' permission.")
    form = JourneyForm(request.POST)
    if form.is_valid():
        try:
            journeys.journey_update(journey=journey, actor=_actor(request), **form.cleaned_data)
        except WriteError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, "Journey saved.")
            return redirect("messaging:journey_detail", journey.pk)
    return _journey_page(request, form, journey, status=422)


@require_POST
@permission_required("messaging.manage")
def journey_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    journey = get_object_or_404(Journey, pk=pk)
    active = request.POST.get("active") == "on"
    try:
        journeys.journey_set_active(journey=journey, active=active, actor=_actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{journey.name}” is {'on' if active else 'off'}.")
    return redirect("messaging:journey_detail", journey.pk)


@require_GET
@permission_required("messaging.view")
def journey_dry_run(request: HttpRequest, pk: int) -> HttpResponse:
    journey = get_object_or_404(Journey, pk=pk)
    try:
        rows = journeys.journey_dry_run(journey=journey, days=7)
        error = ""
    except DomainError as exc:
        rows, error = [], exc.message
    return render(request, "messaging/partials/dry_run.html", {"rows": rows, "error": error, "journey": journey})


# --- a customer's communications ---------------------------------------------------------------


def panel_context(request: HttpRequest, customer, **extra) -> dict:
    """What ``customer_panel_body.html`` needs (also used by the Customer 360 tab's template tag)."""
    order = consent.channel_order(customer)
    return {
        "customer": customer,
        "badges": selectors.consent_badges(customer_id=customer.pk),
        "history": selectors.message_history(customer_id=customer.pk, limit=25),
        "ledger": selectors.consent_ledger(customer_id=customer.pk, limit=10),
        "consent_form": extra.pop("consent_form", None) or ConsentForm(),
        "preference_form": extra.pop("preference_form", None) or PreferenceForm(
            initial={"first": order[0], "second": order[1], "third": order[2]}),
        "send_form": extra.pop("send_form", None) or SendMessageForm(),
        "can_send": user_can(request.user, "messaging.send"),
        **extra,
    }


@require_GET
@permission_required("messaging.view")
def customer_panel(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_for_messaging(customer_id=pk)
    context = panel_context(request, customer)
    if request.htmx:
        return render(request, "messaging/partials/customer_panel_body.html", context)
    return render(request, "messaging/customer_page.html", context)


def _panel_response(request: HttpRequest, customer, status: int = 200, **extra) -> HttpResponse:
    customer = selectors.customer_for_messaging(customer_id=customer.pk)
    context = panel_context(request, customer, **extra)
    if request.htmx:
        return render(request, "messaging/partials/customer_panel_body.html", context, status=status)
    if status >= 400:
        return render(request, "messaging/customer_page.html", context, status=status)
    return redirect("messaging:customer_panel", customer.pk)


@require_POST
@permission_required("messaging.send")
def customer_send(request: HttpRequest, pk: int) -> HttpResponse:
    """Send now. The panel's form swaps the panel; the standalone form (Customer 360's quick
    action, ``fragment=send_form``) swaps just itself."""
    customer = selectors.customer_for_messaging(customer_id=pk)
    form = SendMessageForm(request.POST)
    sent = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            sent = services.message_send_now(
                customer=customer, actor=_actor(request), template=data["template"],
                text=data["text"] or "", subject=data["subject"] or "", channel=data["channel"] or None,
                purpose=data["purpose"],
            )
        except WriteError as exc:
            form_add_domain_error(form, exc)
    status = 200 if sent is not None else 422
    if request.POST.get("fragment") == "send_form":
        return render(request, "messaging/partials/send_form_body.html", {
            "customer": customer, "send_form": SendMessageForm() if sent else form, "sent": sent,
            "standalone": True, "can_send": True,
        }, status=status)
    if sent is not None:
        return _panel_response(request, customer, sent=sent)
    return _panel_response(request, customer, status=422, send_form=form)


@require_POST
@permission_required("messaging.send")
def customer_consent(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_for_messaging(customer_id=pk)
    form = ConsentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            consent.consent_record(customer=customer, channel=data["channel"], purpose=data["purpose"],
                                   granted=data["granted"], source=data["source"], actor=_actor(request),
                                   note=data["note"])
        except WriteError as exc:
            form_add_domain_error(form, exc)
        else:
            return _panel_response(request, customer, consent_saved=True)
    return _panel_response(request, customer, status=422, consent_form=form)


@require_POST
@permission_required("messaging.send")
def customer_preferences(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_for_messaging(customer_id=pk)
    form = PreferenceForm(request.POST)
    if form.is_valid():
        try:
            consent.contact_preference_set(customer=customer, channel_order=form.order(), actor=_actor(request))
        except WriteError as exc:
            form.add_error("second" if exc.field == "channel_order" else None, exc.message if isinstance(
                exc, DomainError) else exc.messages)
        else:
            return _panel_response(request, customer, preferences_saved=True)
    return _panel_response(request, customer, status=422, preference_form=form)


# --- outbox and suppressions -------------------------------------------------------------------


@require_GET
@permission_required("messaging.view")
def message_list(request: HttpRequest) -> HttpResponse:
    form = OutboxFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.message_list(status=filters.get("status") or None, channel=filters.get("channel") or None)
    try:
        page = keyset_page(qs, order=("-created_at", "-id"), cursor=request.GET.get("cursor"), limit=50,
                           scope="messaging.outbox")
    except InvalidCursor:
        page = keyset_page(qs, order=("-created_at", "-id"), cursor=None, limit=50, scope="messaging.outbox")
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "messaging/outbox.html", {
        "form": form, "page": page, "query": query.urlencode(), "counts": selectors.outbox_counts(),
    })


@require_POST
@permission_required("messaging.send")
def message_action(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(Message.objects.select_related("customer"), pk=pk)
    action = request.POST.get("action", "")
    try:
        if action == "cancel":
            services.message_cancel(message=message, actor=_actor(request))
        elif action in ("sent", "resend", "failed"):
            if not user_can(request.user, "messaging.manage"):
                return HttpResponseForbidden("This needs the 'messaging.manage' permission.")
            outbox.message_resolve(message=message, outcome=action, actor=_actor(request))
        else:
            raise DomainError("Unknown action.", field="action")
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Done.")
    return redirect(request.POST.get("next") or reverse("messaging:message_list"))


@require_http_methods(["GET", "POST"])
@permission_required("messaging.view")
def suppression_list(request: HttpRequest) -> HttpResponse:
    form = SuppressionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not user_can(request.user, "messaging.manage"):
            return HttpResponseForbidden("This needs the 'messaging.manage' permission.")
        if form.is_valid():
            try:
                consent.suppression_add(actor=_actor(request), **form.cleaned_data)
            except WriteError as exc:
                form_add_domain_error(form, exc)
            else:
                messages.success(request, "Address suppressed.")
                return redirect("messaging:suppression_list")
        status = 422
    query = request.GET.get("q", "")[:100]
    return render(request, "messaging/suppressions.html", {
        "form": form, "suppressions": selectors.suppression_list(query=query)[:200], "q": query,
        "can_manage": user_can(request.user, "messaging.manage"),
    }, status=status)


@require_POST
@permission_required("messaging.manage")
def suppression_lift(request: HttpRequest, pk: int) -> HttpResponse:
    suppression = get_object_or_404(Suppression, pk=pk)
    try:
        consent.suppression_lift(suppression=suppression, actor=_actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{suppression.address} may be messaged again.")
    return redirect("messaging:suppression_list")


# --- public: unsubscribe link and provider webhooks --------------------------------------------


@login_not_required
@csrf_exempt  # mail clients POST the one-click unsubscribe without a session (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation button (link scanners must not unsubscribe anyone); POST —
    from the button or the mail client's one-click — unsubscribes at once."""
    try:
        _customer_id, purpose = services.unsubscribe_token_read(token)
    except DomainError:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        try:
            services.unsubscribe_via_link(token=token)
        except DomainError:
            return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=404)
        return render(request, "messaging/unsubscribe.html", {"done": True, "purpose": purpose})
    return render(request, "messaging/unsubscribe.html", {"purpose": purpose, "token": token})


def _webhook_token(channel: str) -> str:
    return getattr(settings, "SMS_API_KEY" if channel == Channel.SMS else "WHATSAPP_API_KEY", "")


def _signed(request: HttpRequest, channel: str) -> bool:
    params = {key: request.POST.getlist(key) for key in request.POST}
    params = {key: values[0] if len(values) == 1 else values for key, values in params.items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    token = _webhook_token(channel)
    urls = {request.build_absolute_uri(), services.public_url(request.get_full_path())}
    return any(signature_valid(token, url, params, signature) for url in urls)


def _twiml(reply: str) -> HttpResponse:
    body = f"<Message>{escape(reply)}</Message>" if reply else ""
    return HttpResponse(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
                        content_type="application/xml")


@login_not_required
@csrf_exempt
@require_POST
def webhook_inbound(request: HttpRequest, channel: str) -> HttpResponse:
    """A customer's SMS/WhatsApp, forwarded by the provider (signed): keywords, session window."""
    if channel not in (Channel.SMS, Channel.WHATSAPP) or not _signed(request, channel):
        return HttpResponseForbidden("Bad signature.")
    try:
        result = services.inbound_receive(
            channel=channel, from_address=request.POST.get("From", ""), to_address=request.POST.get("To", ""),
            body=request.POST.get("Body", ""), provider_message_id=request.POST.get("MessageSid", ""),
        )
    except DomainError as exc:
        return HttpResponse(exc.message, status=422)
    return _twiml(result.reply)


@login_not_required
@csrf_exempt
@require_POST
def webhook_status(request: HttpRequest, channel: str) -> HttpResponse:
    """A delivery report (signed): delivered, undelivered, failed (21610 suppresses)."""
    if channel not in (Channel.SMS, Channel.WHATSAPP) or not _signed(request, channel):
        return HttpResponseForbidden("Bad signature.")
    services.message_status_callback(
        channel=channel, provider_message_id=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""), error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)

