"""The Customer 360 screen and its quick actions. Thin: parse, call a selector or a shop service,
render the page or — for htmx — the fragment that changed (plus out-of-band updates)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError
from servicebay.core.pagination import InvalidCursor
from servicebay.core.roles import PERMISSIONS, user_can
from servicebay.core.timezones import local
from servicebay.core.views import form_add_domain_error, permission_required
from servicebay.shop import selectors as shop_selectors
from servicebay.shop import services as shop_services

from . import selectors
from .charts import chart_table_rows, spend_visits_svg
from .feed import FAMILIES
from .forms import AppointmentForm, MessageForm, NoteForm
from .providers import MESSAGING
from .tabs import DEFAULT_TAB, available_tabs, tab_get

PANEL_TARGET = "c360-body"
# Messaging's permission to send one message now.
MESSAGE_SEND_PERMISSION = "messaging.send"


def _kinds(request: HttpRequest) -> list[str]:
    return [kind for kind in request.GET.getlist("kind") if kind][:20]


def _can_send(request: HttpRequest, view: selectors.Customer360) -> bool:
    """Messaging offers sending and this user holds its permission."""
    return (
        view.can_send_message
        and MESSAGE_SEND_PERMISSION in PERMISSIONS
        and user_can(request.user, MESSAGE_SEND_PERMISSION)
    )


def _header_context(request: HttpRequest, view: selectors.Customer360) -> dict:
    return {
        "c360": view,
        "customer": view.customer,
        "tabs": available_tabs(),
        "can_send": _can_send(request, view),
    }


def _overview_context(
    request: HttpRequest,
    view: selectors.Customer360,
    *,
    note_form: NoteForm | None = None,
    appointment_form: AppointmentForm | None = None,
    message_form: MessageForm | None = None,
    kinds: list[str] | None = None,
) -> dict:
    """The overview tab. The booking and message forms load when opened (``toggle``), unless one
    is given: a form with errors, a prefilled one, or a fresh one after a change — shown open."""
    return {
        "activity": selectors.customer_activity(
            customer=view.customer, kinds=kinds or [], currency=view.currency
        ),
        "families": FAMILIES,
        "chart": spend_visits_svg(view.series, view.currency),
        "chart_rows": chart_table_rows(view.series, view.currency),
        "note_form": note_form or NoteForm(),
        "appointment_form": appointment_form,
        "message_form": message_form,
    }


def _render_console(
    request: HttpRequest,
    customer_id: int,
    *,
    tab_key: str = DEFAULT_TAB,
    status: int = 200,
    note_form: NoteForm | None = None,
    appointment_form: AppointmentForm | None = None,
    message_form: MessageForm | None = None,
    kinds: list[str] | None = None,
) -> HttpResponse:
    tab = tab_get(tab_key)
    if tab is None:
        raise Http404("No such tab.")
    panel_only = bool(request.htmx) and request.htmx.target == PANEL_TARGET
    if panel_only and tab.key != "overview":
        # Another app's panel (or the vehicles table) under the tabs: no need for the header's reads.
        customer = selectors.customer_for_console(customer_id=customer_id)
        context = {"customer": customer, "tabs": available_tabs(), "tab": tab}
    else:
        view = selectors.customer_360(customer_id=customer_id)
        customer = view.customer
        context = _header_context(request, view) | {"tab": tab}
    if tab.key == "overview":
        context |= _overview_context(
            request, view, note_form=note_form, appointment_form=appointment_form,
            message_form=message_form, kinds=kinds,
        )
    elif tab.key == "vehicles":
        context |= _vehicles_context(customer)
    template = "customer360/partials/panel.html" if panel_only else "customer360/detail.html"
    return render(request, template, context, status=status)


def _vehicles_context(customer) -> dict:
    currency = selectors.customer_spend_summary(customer=customer, now=timezone.now()).currency
    history = selectors.customer_vehicle_history(customer_id=customer.pk, currency=currency)
    return {
        "currency": currency,
        "vehicle_rows": [(vehicle, history.get(vehicle.pk)) for vehicle in customer.vehicles.all()],
    }


@require_GET
@permission_required("shop.view")
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The console: header, tabs and the chosen tab (overview by default)."""
    tab_key = request.GET.get("tab") or DEFAULT_TAB
    return _render_console(request, customer_id, tab_key=tab_key, kinds=_kinds(request))


@require_GET
@permission_required("shop.view")
def activity(request: HttpRequest, customer_id: int) -> HttpResponse:
    """One page of the feed: the next page for infinite scroll, or page one of a new filter."""
    customer = selectors.customer_for_console(customer_id=customer_id)
    kinds = _kinds(request)
    try:
        page = selectors.customer_activity(
            customer=customer, kinds=kinds, cursor=request.GET.get("cursor") or None
        )
    except InvalidCursor:
        return render(
            request, "customer360/partials/feed_stale.html", {"customer": customer}, status=422
        )
    context = {"customer": customer, "activity": page, "families": FAMILIES}
    if request.htmx:
        return render(request, "customer360/partials/feed_items.html", context)
    return render(request, "customer360/activity.html", context)


# --- quick actions -------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def _after_change(request: HttpRequest, template: str, customer_id: int, **extra: object) -> HttpResponse:
    """The quick action's fresh form plus out-of-band updates of what the change touched."""
    view = selectors.customer_360(customer_id=customer_id)
    context = _header_context(request, view) | _overview_context(request, view) | extra
    return render(request, template, context)


@require_POST
@permission_required("notes.write")
def note_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Add a note (pinned or not); it appears at the top of the feed."""
    customer = selectors.customer_for_console(customer_id=customer_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            shop_services.note_add(customer=customer, actor=_actor(request), **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
    if not form.is_valid():
        if request.htmx:
            return render(request, "customer360/partials/note_form.html",
                          {"customer": customer, "note_form": form}, status=422)
        return _render_console(request, customer_id, note_form=form, status=422)
    messages.success(request, "Note added.")
    if not request.htmx:
        return redirect("customer360:detail", customer_id=customer_id)
    # The fresh form takes the focus back, so the next note can be typed straight away.
    return _after_change(request, "customer360/partials/note_saved.html", customer_id,
                         note_form=NoteForm(autofocus=True))


def _service_ids(request: HttpRequest) -> list[int]:
    return [int(v) for v in request.GET.getlist("service") if v.isdigit()][:20]


@require_GET
@permission_required("appointments.write")
def appointment_form(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The booking form, opened (and prefilled when a next best action's one click lands here)."""
    customer = selectors.customer_for_console(customer_id=customer_id)
    initial = {"services": _service_ids(request)}
    vehicle = request.GET.get("vehicle", "")
    if vehicle.isdigit():
        initial["vehicle"] = int(vehicle)
    # Opened from a next best action: straight into the form. Opened by its own toggle: the
    # focus stays on the toggle.
    form = AppointmentForm(customer=customer, initial=initial, autofocus=not request.GET.get("lazy"))
    context = {"customer": customer, "appointment_form": form}
    if request.htmx:
        return render(request, "customer360/partials/appointment_form.html", context)
    return _render_console(request, customer_id, appointment_form=form)


@require_GET
@permission_required("shop.view")
def appointment_conflicts(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Live check while the booking form is filled in: other bookings of the vehicle that overlap."""
    customer = selectors.customer_for_console(customer_id=customer_id)
    form = AppointmentForm(request.GET, customer=customer)
    conflicts = []
    if form.is_valid():
        conflicts = shop_selectors.appointment_conflicts(
            vehicle_id=form.cleaned_data["vehicle"].pk,
            start_at=form.cleaned_data["start_at"], end_at=form.end_at,
        )
    return render(request, "customer360/partials/appointment_conflicts.html",
                  {"customer": customer, "conflicts": conflicts})


@require_POST
@permission_required("appointments.write")
def appointment_create(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Book an appointment from the console; overlapping bookings need a second, explicit click."""
    customer = selectors.customer_for_console(customer_id=customer_id)
    form = AppointmentForm(request.POST, customer=customer)
    conflicts = []
    appointment = None
    if form.is_valid():
        data = form.cleaned_data
        conflicts = shop_selectors.appointment_conflicts(
            vehicle_id=data["vehicle"].pk, start_at=data["start_at"], end_at=form.end_at
        )
        if not conflicts or data["book_anyway"]:
            try:
                appointment = shop_services.appointment_book(
                    actor=_actor(request), customer=customer, vehicle=data["vehicle"],
                    location=data["location"], start_at=data["start_at"],
                    duration_minutes=data["duration_minutes"], services=data["services"],
                    notes=data["notes"],
                )
            except DomainError as exc:
                if exc.field == "start_at":
                    exc.field = "time"
                form_add_domain_error(form, exc)
    if appointment is None:
        context = {"customer": customer, "appointment_form": form, "conflicts": conflicts,
                   "confirm_conflicts": bool(conflicts) and form.is_valid()}
        if request.htmx:
            return render(request, "customer360/partials/appointment_form.html", context, status=422)
        return _render_console(request, customer_id, appointment_form=form, status=422)
    shown = local(appointment.start_at, appointment.location.time_zone)
    messages.success(
        request,
        f"Booked {shown:%a} {shown.day} {shown:%b %Y} at {shown:%H:%M} ({appointment.location.name}).",
    )
    if not request.htmx:
        return redirect(reverse("customer360:detail", args=[customer_id]))
    return _after_change(request, "customer360/partials/appointment_saved.html", customer_id,
                         booked=appointment, appointment_form=AppointmentForm(customer=customer))


# --- send a message (once the messaging app offers it) ------------------------------------------


def _message_form(request: HttpRequest, customer, data=None, *, badges=None, **kwargs) -> MessageForm:
    if not MESSAGING.service("message_send_now"):
        raise Http404("Messaging is not available.")
    if badges is None:
        badges = MESSAGING.call("consent_badges", customer_id=customer.pk)
    return MessageForm(
        data, customer=customer,
        templates=MESSAGING.call("message_template_list", active_only=True),
        badges=badges or (), **kwargs,
    )


@require_GET
@permission_required(MESSAGE_SEND_PERMISSION)
def message_form(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The send form, opened and prefilled (channel, template or text from a next best action)."""
    customer = selectors.customer_for_console(customer_id=customer_id)
    initial = {key: request.GET[key] for key in ("channel", "text", "purpose") if request.GET.get(key)}
    if request.GET.get("template", "").isdigit():
        initial["template"] = int(request.GET["template"])
    form = _message_form(request, customer, initial=initial, autofocus=not request.GET.get("lazy"))
    context = {"customer": customer, "message_form": form}
    if request.htmx:
        return render(request, "customer360/partials/message_form.html", context)
    return _render_console(request, customer_id, message_form=form)


@require_GET
@permission_required(MESSAGE_SEND_PERMISSION)
def message_preview(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Which channel the message would take and when — quiet hours included — without sending."""
    customer = selectors.customer_for_console(customer_id=customer_id)
    form = _message_form(request, customer, request.GET)
    message_build = MESSAGING.service("message_build")
    context: dict = {"customer": customer}
    if form.is_valid() and message_build is not None:
        try:
            context["preview"] = message_build(
                customer=customer, actor=_actor(request), **form.service_kwargs()
            )
        except DomainError as exc:
            context["preview_error"] = exc.message
    return render(request, "customer360/partials/message_preview.html", context)


@require_POST
@permission_required(MESSAGE_SEND_PERMISSION)
def message_send(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Send one message now; quiet hours defer it and the answer says until when."""
    customer = selectors.customer_for_console(customer_id=customer_id)
    form = _message_form(request, customer, request.POST)
    message = None
    if form.is_valid():
        try:
            message = MESSAGING.service("message_send_now")(
                customer=customer, actor=_actor(request), **form.service_kwargs()
            )
        except DomainError as exc:
            if exc.field == "template_id":
                exc.field = "template"
            form_add_domain_error(form, exc)
    if message is None:
        context = {"customer": customer, "message_form": form}
        if request.htmx:
            return render(request, "customer360/partials/message_form.html", context, status=422)
        return _render_console(request, customer_id, message_form=form, status=422)
    if message.status == "skipped":
        messages.warning(request, f"Not sent: {message.skip_reason}")
    else:
        messages.success(request, "Message sent." if message.status == "queued" else "Message held for quiet hours.")
    if not request.htmx:
        return redirect("customer360:detail", customer_id=customer_id)
    return _after_change(request, "customer360/partials/message_saved.html", customer_id,
                         sent=message, message_form=_message_form(request, customer))
