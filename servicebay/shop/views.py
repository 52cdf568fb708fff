"""Shop screens. Thin: parse input with a form, call a selector or a service, render.

Writes go through ``services``; their DomainError / ValidationError become inline form errors or a
message, never a 500. An htmx request gets the partial it swaps in; the same template renders
inside the full page, so there is one source of markup.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError
from servicebay.core.pagination import InvalidCursor, Page, keyset_page
from servicebay.core.roles import user_can
from servicebay.core.views import form_add_domain_error, permission_required
from servicebay.visits import services as visit_services
from servicebay.visits.choices import SATISFACTION_LINK_MAX_AGE
from servicebay.visits.models import CustomerVisit

from . import selectors, services
from .choices import APPOINTMENT_TRANSITIONS, JOB_CARD_TRANSITIONS, JobCardStatus
from .forms import (
    APPOINTMENT_ACTIONS,
    AppointmentFilterForm,
    AppointmentForm,
    CheckInForm,
    CustomerForm,
    JobCardFilterForm,
    JobLineForm,
    NoteForm,
    VehicleForm,
    VisitRatingForm,
    WalkInForm,
)
from .models import Appointment, JobCard, JobLine, Location, Note

PAGE_SIZE = 25
SESSION_LOCATION = "shop.location_id"
WriteError = (DomainError, ValidationError)


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def _add_error(form: Form, exc: DomainError | ValidationError, aliases: dict[str, str] | None = None) -> None:
    """Put a service error on the form field the person filled in (``start_at`` → ``date``)."""
    if isinstance(exc, DomainError) and aliases and exc.field in aliases:
        form.add_error(aliases[exc.field], exc.message)
        return
    form_add_domain_error(form, exc)


def _error_text(exc: DomainError | ValidationError) -> str:
    return exc.message if isinstance(exc, DomainError) else " ".join(exc.messages)


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect that also works when the request came from htmx (full page navigation)."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _status(form: Form) -> int:
    return 422 if form.errors else 200


def _keyset(queryset, *, order: tuple[str, ...], cursor: str | None, scope: str) -> Page:
    """One page of a list; a tampered or stale cursor restarts at the first page."""
    try:
        return keyset_page(queryset, order=order, cursor=cursor, limit=PAGE_SIZE, scope=scope)
    except InvalidCursor:
        return keyset_page(queryset, order=order, cursor=None, limit=PAGE_SIZE, scope=scope)


def _local_today(location: Location) -> date:
    return timezone.now().astimezone(ZoneInfo(location.time_zone)).date()


# --- home --------------------------------------------------------------------------------------


@require_GET
@permission_required("shop.view")
def home(request: HttpRequest) -> HttpResponse:
    """Today at a glance: each location's appointments of its local day and the open job cards."""
    locations = list(selectors.location_list())
    appointments = _with_actions(selectors.appointments_today(locations=locations, now=timezone.now()))
    active_cards = list(selectors.job_cards_active()[:50])
    return render(request, "shop/home.html", {
        "locations": locations,
        "appointments": appointments,
        "active_cards": active_cards,
        "waiting_count": sum(1 for a in appointments if a.status in ("booked", "confirmed")),
        "in_progress_count": sum(1 for c in active_cards if c.status == JobCardStatus.IN_PROGRESS),
        "many_locations": len(locations) > 1,
    })


# --- customers ---------------------------------------------------------------------------------


@require_GET
@permission_required("shop.view")
def customer_list(request: HttpRequest) -> HttpResponse:
    """Search by name, phone, email, plate or VIN; "load more" fetches the next keyset page."""
    query = request.GET.get("q", "").strip()[:100]
    cursor = request.GET.get("cursor") or None
    page = _keyset(selectors.customer_rows(query=query), order=("last_name", "first_name", "id"),
                   cursor=cursor, scope="ui.customers")
    context = {"query": query, "page": page}
    if request.htmx and cursor:
        return render(request, "shop/partials/customer_rows.html", context)
    if request.htmx and request.htmx.target == "customer-results":
        return render(request, "shop/partials/customer_results.html", context)
    return render(request, "shop/customer_list.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("customers.write")
def customer_create(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(actor=_actor(request), **form.cleaned_data)
        except WriteError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"{customer.full_name} was added.")
            return redirect("shop:customer_detail", pk=customer.pk)
    return render(request, "shop/customer_form.html", {"form": form}, status=_status(form))


@require_http_methods(["GET", "POST"])
@permission_required("customers.write")
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(customer_id=pk)
    if request.method == "POST":
        form = CustomerForm(request.POST)
        if form.is_valid():
            try:
                services.customer_update(customer=customer, actor=_actor(request), **form.cleaned_data)
            except WriteError as exc:
                _add_error(form, exc)
            else:
                messages.success(request, "Customer details saved.")
                return redirect("shop:customer_detail", pk=customer.pk)
    else:
        form = CustomerForm(initial=CustomerForm.initial_from(customer))
    return render(request, "shop/customer_form.html", {"form": form, "customer": customer},
                  status=_status(form))


def _customer_page(request: HttpRequest, pk: int, **forms) -> dict:
    page = selectors.customer_page(customer_id=pk, now=timezone.now())
    return {
        "customer": page.customer,
        "vehicles": page.vehicles,
        "notes": page.notes,
        "upcoming": page.upcoming,
        "job_cards": page.job_cards,
        "vehicle_form": forms.get("vehicle_form") or VehicleForm(),
        "note_form": forms.get("note_form") or NoteForm(),
        "vehicle_form_open": "vehicle_form" in forms,
    }


@require_GET
@permission_required("shop.view")
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "shop/customer_detail.html", _customer_page(request, pk))


@require_POST
@permission_required("vehicles.write")
def vehicle_add(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(customer_id=pk)
    form = VehicleForm(request.POST)
    if form.is_valid():
        try:
            vehicle = services.vehicle_create(customer=customer, actor=_actor(request), **form.cleaned_data)
        except WriteError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"{vehicle} was added.")
            if not request.htmx:
                return redirect("shop:customer_detail", pk=pk)
            form = VehicleForm()
    if not request.htmx:
        return render(request, "shop/customer_detail.html",
                      _customer_page(request, pk, vehicle_form=form), status=_status(form))
    return render(request, "shop/partials/vehicles_card.html", {
        "customer": customer, "vehicles": list(customer.vehicles.all()),
        "vehicle_form": form, "vehicle_form_open": bool(form.errors),
    }, status=_status(form))


def _notes_response(request: HttpRequest, customer, form: NoteForm) -> HttpResponse:
    if not request.htmx:
        if form.errors:
            return render(request, "shop/customer_detail.html",
                          _customer_page(request, customer.pk, note_form=form), status=422)
        return redirect("shop:customer_detail", pk=customer.pk)
    notes = list(selectors.note_list(customer_id=customer.pk)[:20])
    return render(request, "shop/partials/notes_card.html",
                  {"customer": customer, "notes": notes, "note_form": form}, status=_status(form))


@require_POST
@permission_required("notes.write")
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(customer_id=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(customer=customer, actor=_actor(request), **form.cleaned_data)
        except WriteError as exc:
            _add_error(form, exc)
        else:
            form = NoteForm()
    return _notes_response(request, customer, form)


@require_POST
@permission_required("notes.write")
def note_pin(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Note.objects.select_related("customer"), pk=pk)
    services.note_set_pinned(note=note, pinned=request.POST.get("pinned") == "1", actor=_actor(request))
    return _notes_response(request, note.customer, NoteForm())


# --- appointments ------------------------------------------------------------------------------


def _default_location(request: HttpRequest, customer=None) -> Location | None:
    if customer is not None and customer.home_location_id:
        return customer.home_location
    remembered = request.session.get(SESSION_LOCATION)
    location = Location.objects.filter(pk=remembered).first() if remembered else None
    return location or Location.objects.first()


@require_http_methods(["GET", "POST"])
@permission_required("appointments.write")
def appointment_book(request: HttpRequest, pk: int) -> HttpResponse:
    """Book in the location's local time; overlapping bookings of the vehicle warn but pass."""
    customer = selectors.customer_get(customer_id=pk)
    if request.method == "POST":
        form = AppointmentForm(request.POST, customer=customer)
    else:
        location = _default_location(request, customer)
        vehicles = list(customer.vehicles.all())
        form = AppointmentForm(customer=customer, initial={
            "location": location,
            "vehicle": request.GET.get("vehicle") or (vehicles[0].pk if vehicles else None),
            "date": (_local_today(location) if location else timezone.now().date()) + timedelta(days=1),
            "time": "09:00",
        })
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        conflicts = selectors.appointment_conflicts(
            vehicle_id=data["vehicle"].pk, start_at=data["start_at"], end_at=form.end_at
        )
        try:
            services.appointment_book(
                actor=_actor(request), customer=customer, vehicle=data["vehicle"],
                location=data["location"], start_at=data["start_at"],
                duration_minutes=data["duration_minutes"], services=data["services"],
                notes=data["notes"],
            )
        except WriteError as exc:
            _add_error(form, exc, aliases={"start_at": "date", "vehicle_id": "vehicle"})
        else:
            messages.success(request, f"Appointment booked for {data['date']:%a %d %b} at {data['time']:%H:%M}.")
            if conflicts:
                messages.warning(request, f"Heads-up: it overlaps {len(conflicts)} other booking(s) of this vehicle.")
            return redirect("shop:customer_detail", pk=pk)
    return render(request, "shop/appointment_form.html", {
        "customer": customer, "form": form, "has_vehicles": customer.vehicles.exists(),
    }, status=_status(form))


@require_GET
@permission_required("appointments.write")
def appointment_conflict_check(request: HttpRequest, pk: int) -> HttpResponse:
    """The live overlap warning of the booking form (htmx, on every change)."""
    customer = selectors.customer_get(customer_id=pk)
    form = AppointmentForm(request.GET, customer=customer)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    conflicts = []
    if data.get("vehicle") and data.get("start_at") and form.end_at:
        conflicts = selectors.appointment_conflicts(
            vehicle_id=data["vehicle"].pk, start_at=data["start_at"], end_at=form.end_at
        )
    return render(request, "shop/partials/appointment_conflicts.html", {"conflicts": conflicts})


@require_GET
@permission_required("shop.view")
def appointment_list(request: HttpRequest) -> HttpResponse:
    """One location's day, in that location's time zone."""
    form = AppointmentFilterForm(request.GET or None)
    location = day = None
    if form.is_bound and form.is_valid():
        location, day = form.cleaned_data["location"], form.cleaned_data["date"]
    location = location or _default_location(request)
    if location is None:
        return render(request, "shop/appointment_list.html", {"form": form, "location": None})
    request.session[SESSION_LOCATION] = location.pk
    day = day or _local_today(location)
    form = AppointmentFilterForm(initial={"location": location, "date": day})
    appointments = _with_actions(list(selectors.appointment_day(location=location, day=day)))
    return render(request, "shop/appointment_list.html", {
        "form": form, "location": location, "day": day, "appointments": appointments,
        "previous_day": day - timedelta(days=1), "next_day": day + timedelta(days=1),
        "is_today": day == _local_today(location),
    })


def _appointment_row(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = get_object_or_404(
        Appointment.objects.select_related("customer", "vehicle", "location", "job_card")
        .prefetch_related("services"),
        pk=appointment_id,
    )
    return render(request, "shop/partials/appointment_row.html", {
        "appointment": _with_actions([appointment])[0],
        "show_location": request.POST.get("show_location") == "1",
        "services_class": "hide-tablet" if request.POST.get("compact") == "1" else "",
    })


_STATUS_DONE = {
    "confirmed": "appointment confirmed",
    "cancelled": "appointment cancelled",
    "no_show": "marked as a no-show",
}


def _with_actions(appointments: list[Appointment]) -> list[Appointment]:
    """Attach the status moves each appointment still allows (for its row's buttons)."""
    for appointment in appointments:
        allowed = APPOINTMENT_TRANSITIONS.get(appointment.status, frozenset())
        appointment.ui_actions = [(s, label) for s, label in APPOINTMENT_ACTIONS.items() if s in allowed]
        appointment.can_check_in = "checked_in" in allowed
    return appointments


@require_POST
@permission_required("appointments.write")
def appointment_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, cancel or mark a no-show; htmx swaps the row in place."""
    appointment = get_object_or_404(Appointment.objects.select_related("customer"), pk=pk)
    status = request.POST.get("status", "")
    if status not in APPOINTMENT_ACTIONS:
        messages.error(request, "Choose confirm, cancel or no-show.")
    else:
        try:
            services.appointment_set_status(appointment=appointment, status=status, actor=_actor(request))
        except WriteError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, f"{appointment.customer.full_name}: {_STATUS_DONE[status]}.")
    if request.htmx:
        return _appointment_row(request, pk)
    return redirect(request.POST.get("next") or reverse("shop:appointment_list"))


@require_POST
@permission_required("visits.write")
def appointment_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    """The car arrived: a scheduled visit starts, with the appointment's job card."""
    appointment = get_object_or_404(
        Appointment.objects.select_related("customer", "vehicle", "location"), pk=pk
    )
    form = CheckInForm(request.POST)
    odometer = form.cleaned_data.get("odometer_in") if form.is_valid() else None
    try:
        visit = visit_services.visit_check_in(
            actor=_actor(request), appointment=appointment, odometer_in=odometer,
        )
    except WriteError as exc:
        messages.error(request, _error_text(exc))
        return _redirect(request, request.POST.get("next") or reverse("shop:appointment_list"))
    card = visit.job_card
    messages.success(request, f"{appointment.customer.full_name} checked in — job card {card.display_number}.")
    return _redirect(request, reverse("shop:job_card_detail", args=[card.pk]))


# --- job cards ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required("visits.write")
def job_card_walk_in(request: HttpRequest, pk: int) -> HttpResponse:
    """Check in a customer who came without an appointment: a walk-in visit with its job card.

    The vehicle's open job card without a visit is reused (the visits service decides), so a card
    opened earlier is not duplicated.
    """
    customer = selectors.customer_get(customer_id=pk)
    if request.method == "POST":
        form = WalkInForm(request.POST, customer=customer)
    else:
        location = _default_location(request, customer)
        form = WalkInForm(customer=customer, initial={
            "location": location, "vehicle": request.GET.get("vehicle"),
        })
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            visit = visit_services.visit_check_in(
                actor=_actor(request), location=data["location"], customer=customer,
                vehicle=data["vehicle"], odometer_in=data["odometer_in"],
            )
        except WriteError as exc:
            _add_error(form, exc)
        else:
            card = visit.job_card
            messages.success(request, f"{data['vehicle']} checked in — job card {card.display_number}.")
            return redirect("shop:job_card_detail", pk=card.pk)
    return render(request, "shop/job_card_walk_in.html", {
        "customer": customer, "form": form, "has_vehicles": customer.vehicles.exists(),
    }, status=_status(form))


@require_GET
@permission_required("shop.view")
def job_card_list(request: HttpRequest) -> HttpResponse:
    form = JobCardFilterForm(request.GET or None)
    status, location = "active", None
    if form.is_bound and form.is_valid():
        status, location = form.cleaned_data["status"], form.cleaned_data["location"]
    elif not form.is_bound:
        form = JobCardFilterForm(initial={"status": status})
    cursor = request.GET.get("cursor") or None
    page = _keyset(selectors.job_card_filtered(status=status, location_id=location.pk if location else None),
                   order=("-opened_at", "-id"), cursor=cursor, scope="ui.jobcards")
    context = {"form": form, "page": page, "query_string": _without_cursor(request)}
    if request.htmx and cursor:
        return render(request, "shop/partials/job_card_rows.html", context)
    if request.htmx and request.htmx.target == "job-card-results":
        return render(request, "shop/partials/job_card_results.html", context)
    return render(request, "shop/job_card_list.html", context)


def _without_cursor(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("cursor", None)
    return params.urlencode()


# Who may make which move, as in the API: technicians start work; completing, closing,
# cancelling and reopening are the advisor's (or manager's) call.
_TRANSITION_UI = {
    JobCardStatus.IN_PROGRESS: ("Start work", "btn--primary", ""),
    JobCardStatus.COMPLETED: ("Mark complete", "btn--success", ""),
    JobCardStatus.CLOSED: ("Close job card", "btn--primary", "Close this job card? It can no longer be changed."),
    JobCardStatus.CANCELLED: ("Cancel job card", "btn--danger", "Cancel this job card?"),
}


def _transition_permission(current: str, target: str) -> str:
    if target == JobCardStatus.IN_PROGRESS and current == JobCardStatus.OPEN:
        return "jobcards.write"
    return "jobcards.manage"


def _job_card_actions(card, user) -> list[dict]:
    actions = []
    for target in (JobCardStatus.IN_PROGRESS, JobCardStatus.COMPLETED, JobCardStatus.CLOSED,
                   JobCardStatus.CANCELLED):
        if target not in JOB_CARD_TRANSITIONS[card.status]:
            continue
        if not user_can(user, _transition_permission(card.status, target)):
            continue
        label, style, confirm = _TRANSITION_UI[target]
        if card.status == JobCardStatus.COMPLETED and target == JobCardStatus.IN_PROGRESS:
            label, style, confirm = "Reopen", "", "Reopen this job card? Points earned for it are reversed."
        actions.append({"status": target, "label": label, "style": style, "confirm": confirm})
    return actions


def _visit_of(card: JobCard) -> CustomerVisit | None:
    """The visit the card belongs to (one query); cards opened outside a check-in have none."""
    try:
        return card.visit
    except ObjectDoesNotExist:
        return None


def _visit_context(request: HttpRequest, card: JobCard, rating_form: VisitRatingForm | None) -> dict:
    """What the job card's Visit panel shows and offers: check-in, check-out, rating, survey link."""
    visit = _visit_of(card)
    may_write = user_can(request.user, "visits.write")
    context = {
        "visit": visit,
        "can_check_in": visit is None and card.is_editable and may_write,
        "can_check_out": (
            visit is not None and visit.check_out_at is None
            and card.status in visit_services.CHECK_OUT_READY and may_write
        ),
        "rating_form": None,
        "survey_url": "",
        "survey_days": SATISFACTION_LINK_MAX_AGE.days,
    }
    if visit is not None and visit.check_out_at is not None and visit.satisfaction_score is None and may_write:
        context["rating_form"] = rating_form or VisitRatingForm(prefix="rating")
        context["survey_url"] = request.build_absolute_uri(
            visit_services.satisfaction_link_path(visit=visit)
        )
    return context


def _job_card_context(
    request: HttpRequest, pk: int, line_form: JobLineForm | None = None,
    rating_form: VisitRatingForm | None = None,
) -> dict:
    card = selectors.job_card_get(job_card_id=pk)
    can_edit = card.is_editable and user_can(request.user, "jobcards.write")
    if can_edit and line_form is None:
        line_form = JobLineForm(parts=selectors.part_list_active())
    lines = list(card.lines.all())
    for line in lines:
        line.net, line.tax = services.line_amounts(line)
        line.tax_percent = line.tax_rate * 100
    visit_context = _visit_context(request, card, rating_form)
    actions = _job_card_actions(card, request.user)
    if visit_context["can_check_out"]:
        # Checking the car out is the next step; closing the card stays on offer, quieter.
        for action in actions:
            action["style"] = action["style"].replace("btn--primary", "")
    return {
        "card": card, "lines": lines, "can_edit": can_edit,
        "line_form": line_form if can_edit else None,
        "actions": actions,
        "currency": card.location.currency, "tz": card.location.time_zone,
        **visit_context,
    }


@require_GET
@permission_required("shop.view")
def job_card_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "shop/job_card_detail.html", _job_card_context(request, pk))


def _lines_response(request: HttpRequest, pk: int, form: JobLineForm | None) -> HttpResponse:
    context = _job_card_context(request, pk, form)
    status = 422 if form is not None and form.errors else 200
    if status == 422 and context["line_form"] is None:
        # The card froze meanwhile (completed elsewhere): no form left to show the error on.
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    template = "shop/partials/job_lines.html" if request.htmx else "shop/job_card_detail.html"
    return render(request, template, context, status=status)


@require_POST
@permission_required("jobcards.write")
def job_line_add(request: HttpRequest, pk: int) -> HttpResponse:
    card = get_object_or_404(selectors.job_card_list(), pk=pk)
    form = JobLineForm(request.POST, parts=selectors.part_list_active())
    if form.is_valid():
        try:
            services.job_line_add(job_card=card, actor=_actor(request), **form.service_arguments())
        except WriteError as exc:
            _add_error(form, exc, aliases={"part_id": "part", "tax_rate": "tax_percent",
                                           "job_card": "kind", "status": "kind"})
        else:
            if not request.htmx:
                return redirect("shop:job_card_detail", pk=pk)
            form = None
    return _lines_response(request, pk, form)


@require_POST
@permission_required("jobcards.write")
def job_line_remove(request: HttpRequest, pk: int, line_id: int) -> HttpResponse:
    line = get_object_or_404(JobLine.objects.select_related("job_card"), pk=line_id, job_card_id=pk)
    try:
        services.job_line_remove(line=line, actor=_actor(request))
    except WriteError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"Removed “{line.description}”.")
    if not request.htmx:
        return redirect("shop:job_card_detail", pk=pk)
    return _lines_response(request, pk, None)


@require_POST
@permission_required("jobcards.write")
def job_card_transition(request: HttpRequest, pk: int) -> HttpResponse:
    """Start, complete, close, cancel or reopen; the role decides which moves are offered."""
    card = get_object_or_404(selectors.job_card_list(), pk=pk)
    target = request.POST.get("status", "")
    if not user_can(request.user, _transition_permission(card.status, target)):
        raise PermissionDenied("Your role cannot make this status change.")
    try:
        card = services.job_card_transition(job_card=card, to_status=target, actor=_actor(request))
    except WriteError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"{card.display_number} is now {card.get_status_display().lower()}.")
    return _redirect(request, reverse("shop:job_card_detail", args=[pk]))


# --- the visit of a job card -------------------------------------------------------------------


def _card_visit(pk: int) -> CustomerVisit:
    """The visit of job card ``pk``; 404 when the card is unknown or was never checked in."""
    return get_object_or_404(CustomerVisit.objects.only("pk", "job_card_id"), job_card_id=pk)


@require_POST
@permission_required("visits.write")
def job_card_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the visit of a card opened without one (by the API, or before visits existed)."""
    card = get_object_or_404(JobCard.objects.only("pk"), pk=pk)
    try:
        visit_services.visit_check_in(actor=_actor(request), job_card=card)
    except WriteError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, "Checked in.")
    return _redirect(request, reverse("shop:job_card_detail", args=[pk]))


@require_POST
@permission_required("visits.write")
def job_card_check_out(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer collects the car: the visit ends with the card's final total as its spend."""
    visit = _card_visit(pk)
    try:
        visit_services.visit_check_out(visit=visit, actor=_actor(request))
    except WriteError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, "Checked out. Ask how it went, or send the survey link.")
    return _redirect(request, reverse("shop:job_card_detail", args=[pk]))


@require_POST
@permission_required("visits.write")
def job_card_rate(request: HttpRequest, pk: int) -> HttpResponse:
    """The advisor records the customer's satisfaction with the visit (1 to 5, once)."""
    visit = _card_visit(pk)
    form = VisitRatingForm(request.POST, prefix="rating")
    if form.is_valid():
        try:
            visit_services.visit_rate(visit=visit, actor=_actor(request), **form.cleaned_data)
        except WriteError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, "Rating saved.")
            return _redirect(request, reverse("shop:job_card_detail", args=[pk]))
    context = _job_card_context(request, pk, rating_form=form)
    if context["rating_form"] is None:
        # Rated or no longer rateable meanwhile: there is no form left to show the error on.
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _redirect(request, reverse("shop:job_card_detail", args=[pk]))
    return render(request, "shop/job_card_detail.html", context, status=422)
