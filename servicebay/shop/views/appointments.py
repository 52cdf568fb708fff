"""Appointments: booking, the day view, status moves and check-in."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from servicebay.core.views import permission_required
from servicebay.visits import services as visit_services

from .. import selectors, services
from ..choices import APPOINTMENT_TRANSITIONS
from ..forms import APPOINTMENT_ACTIONS, AppointmentFilterForm, AppointmentForm, CheckInForm
from ..models import Appointment
from .shared import (
    SESSION_LOCATION,
    WriteError,
    _actor,
    _add_error,
    _default_location,
    _error_text,
    _local_today,
    _redirect,
    _status,
)


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
