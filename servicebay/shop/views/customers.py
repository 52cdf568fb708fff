"""Customers: search, create, edit, their page, and its vehicles and notes."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from servicebay.core.views import permission_required

from .. import selectors, services
from ..forms import CustomerForm, NoteForm, VehicleForm
from ..models import Note
from .shared import WriteError, _actor, _add_error, _keyset, _status


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
