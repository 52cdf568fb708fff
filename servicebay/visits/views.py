"""HTML screens: a customer's service timeline, the visit drill-down, and the customer's survey.

Thin: parse a form, call a service or selector, render. htmx requests get the partial that
changed; the same partials make up the full pages, so there is one source of markup.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url, trigger_client_event

from servicebay.core.actors import Actor
from servicebay.core.errors import Conflict, DomainError
from servicebay.core.pagination import Page
from servicebay.core.views import form_add_domain_error, permission_required
from servicebay.shop.models import Customer

from . import selectors, services
from .forms import (
    AcceptForm,
    CheckInForm,
    CustomerSatisfactionForm,
    DeclineForm,
    RecommendationForm,
    SatisfactionForm,
    TimelineFilterForm,
)
from .models import CustomerVisit, VisitRecommendation

PAGE_SIZE = 20
_FILTER_FIELDS = ("vehicle", "visit_type", "date_from", "date_to")


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def _customer(customer_id: int) -> Customer:
    return get_object_or_404(
        Customer.objects.select_related("home_location").prefetch_related("vehicles"),
        pk=customer_id,
    )


# --- the timeline ---------------------------------------------------------------------------


@dataclass
class Timeline:
    """Everything the timeline partials show; built once per request."""

    customer: Customer
    form: TimelineFilterForm
    page: Page
    filter_query: str
    whats_next: selectors.WhatsNext | None = None
    vehicle_id: int | None = None  # the vehicle filter "What's next" was read with

    @property
    def open_recommendations(self) -> tuple[int, Decimal] | None:
        """All open recommendations (count, value) when "What's next" read them unfiltered."""
        if self.whats_next is None or self.vehicle_id:
            return None
        return self.whats_next.open_total, self.whats_next.open_value


def _timeline(request: HttpRequest, customer: Customer, *, with_whats_next: bool) -> Timeline:
    form = TimelineFilterForm(request.GET or None, customer=customer)
    filters = selectors.TimelineFilters(time_zone=customer.effective_time_zone)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = selectors.TimelineFilters(
            vehicle_id=data["vehicle"], visit_type=data["visit_type"] or None,
            date_from=data["date_from"], date_to=data["date_to"],
            time_zone=customer.effective_time_zone,
        )
    query = QueryDict(mutable=True)
    for name in _FILTER_FIELDS:
        if request.GET.get(name):
            query[name] = request.GET[name]
    if form.is_bound and not form.is_valid():
        page = Page(items=[], next_cursor=None)
    else:
        page = selectors.visit_timeline_page(
            customer_id=customer.pk, filters=filters, cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    whats_next = None
    if with_whats_next:
        whats_next = selectors.whats_next(
            customer_id=customer.pk, vehicle_id=filters.vehicle_id,
            tz_name=customer.effective_time_zone,
        )
    return Timeline(customer=customer, form=form, page=page, filter_query=query.urlencode(),
                    whats_next=whats_next, vehicle_id=filters.vehicle_id)


@require_GET
@permission_required("shop.view")
def timeline(request: HttpRequest, customer_id: int) -> HttpResponse:
    """A customer's visits, newest first, with "What's next" on top.

    ``?fragment=entries`` answers the next page or a new filter (htmx); ``?fragment=body`` the
    whole panel without the page around it (the Customer 360 tab loads it that way);
    ``?fragment=whats_next`` just that card (it refreshes itself after a change on the page).
    """
    customer = _customer(customer_id)
    fragment = request.GET.get("fragment")
    if fragment == "whats_next":
        upcoming = selectors.whats_next(customer_id=customer.pk, tz_name=customer.effective_time_zone)
        return render(request, "visits/partials/whats_next.html",
                      {"customer": customer, "whats_next": upcoming, "errors": {}})
    try:
        data = _timeline(request, customer, with_whats_next=fragment != "entries")
    except DomainError as exc:  # a cursor that was tampered with or belongs to another list
        return render(request, "visits/partials/timeline_error.html", {"message": exc.message},
                      status=422)
    status = 422 if data.form.is_bound and data.form.errors else 200
    context = {"customer": customer, "timeline": data, "in_panel": request.GET.get("panel") == "1"}
    if fragment == "entries" and request.GET.get("cursor"):
        return render(request, "visits/partials/timeline_entries.html", context, status=status)
    if fragment == "entries":
        response = render(request, "visits/partials/timeline_section.html", context, status=status)
        if not context["in_panel"] and status != 422:
            query = f"?{data.filter_query}" if data.filter_query else ""
            push_url(response, f"{reverse('visits:timeline', args=[customer.pk])}{query}")
        return response
    if fragment == "body":
        return render(request, "visits/partials/timeline_body.html", context, status=status)
    context["kpis"] = selectors.visit_kpis(
        customer_id=customer.pk, open_recommendations=data.open_recommendations
    )
    return render(request, "visits/timeline.html", context, status=status)


# --- one visit ------------------------------------------------------------------------------


def _detail_context(detail: CustomerVisit, **extra) -> dict:
    """What visit_detail.html needs; forms come bound (with errors) in ``extra`` after a refusal."""
    return {"detail": detail, "errors": {}, "rate_form": SatisfactionForm(),
            "recommend_form": RecommendationForm(), **extra}


def _entry_context(visit_id: int, **extra) -> dict:
    detail = selectors.visit_detail(visit_id=visit_id)
    visit = selectors.visit_timeline(customer_id=detail.customer_id).get(pk=visit_id)
    return _detail_context(detail, visit=visit, customer=detail.customer, open=True, **extra)


def _entry_response(request: HttpRequest, visit_id: int, *, status: int = 200, **extra) -> HttpResponse:
    """The re-rendered timeline entry (expanded), or a redirect for a plain form post.

    After a change, "What's next" on the same page is told to refresh itself.
    """
    if not request.htmx:
        return redirect("visits:visit_detail", visit_id=visit_id)
    response = render(request, "visits/partials/timeline_entry.html",
                      _entry_context(visit_id, **extra), status=status)
    if status == 200:
        trigger_client_event(response, "whats-next-changed", after="settle")
    return response


@require_GET
@permission_required("shop.view")
def visit_detail(request: HttpRequest, visit_id: int) -> HttpResponse:
    """The drill-down: job card lines, parts, totals, notes and recommendations."""
    if request.htmx and request.GET.get("fragment") == "counts":
        visit = get_object_or_404(CustomerVisit.objects.only("customer_id"), pk=visit_id)
        visit = selectors.visit_timeline(customer_id=visit.customer_id).get(pk=visit_id)
        return render(request, "visits/partials/visit_counts.html", {"visit": visit})
    if request.htmx:
        detail = selectors.visit_detail(visit_id=visit_id)
        return render(request, "visits/partials/visit_detail.html", _detail_context(detail))
    return render(request, "visits/visit_detail.html", _entry_context(visit_id))


@require_POST
@permission_required("visits.write")
def visit_check_out(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = get_object_or_404(CustomerVisit, pk=visit_id)
    try:
        services.visit_check_out(visit=visit, actor=_actor(request))
    except DomainError as exc:
        return _failure(request, visit_id, exc, key="visit")
    messages.success(request, "Checked out.")
    return _entry_response(request, visit_id)


@require_POST
@permission_required("visits.write")
def visit_rate(request: HttpRequest, visit_id: int) -> HttpResponse:
    """The advisor records what the customer said (1 to 5)."""
    visit = get_object_or_404(CustomerVisit, pk=visit_id)
    form = SatisfactionForm(request.POST)
    if form.is_valid():
        try:
            services.visit_rate(visit=visit, actor=_actor(request), **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
    if form.errors:
        return _entry_response(request, visit_id, status=422, rate_form=form)
    messages.success(request, "Rating saved.")
    return _entry_response(request, visit_id)


@require_POST
@permission_required("recommendations.write")
def recommendation_add(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = get_object_or_404(CustomerVisit, pk=visit_id)
    form = RecommendationForm(request.POST)
    if form.is_valid():
        try:
            services.recommendation_add(visit=visit, actor=_actor(request), **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
    if form.errors:
        return _entry_response(request, visit_id, status=422, recommend_form=form)
    messages.success(request, "Recommendation added.")
    return _entry_response(request, visit_id)


def _failure(request: HttpRequest, visit_id: int, exc: DomainError, *, key: str) -> HttpResponse:
    """Show a refused action inline (422, so htmx swaps it in) or as a message after a redirect."""
    if not request.htmx:
        messages.error(request, exc.message)
        return redirect("visits:visit_detail", visit_id=visit_id)
    return _entry_response(request, visit_id, status=422, errors={key: exc.message})


def _decided(request: HttpRequest, rec: VisitRecommendation, *, error: str | None = None) -> HttpResponse:
    """Answer an accept/decline from where it was clicked: the visit entry or "What's next"."""
    status = 422 if error else 200
    if request.POST.get("from") == "whats_next" and request.htmx:
        customer = _customer(rec.visit.customer_id)
        context = {
            "customer": customer, "errors": {rec.pk: error} if error else {},
            "whats_next": selectors.whats_next(customer_id=customer.pk,
                                               tz_name=customer.effective_time_zone),
        }
        response = render(request, "visits/partials/whats_next.html", context, status=status)
        if not error:  # the visit's entry, if it is on the page, refreshes its counts and detail
            trigger_client_event(response, f"visit-changed-{rec.visit_id}", after="settle")
        return response
    if error and not request.htmx:
        messages.error(request, error)
        return redirect("visits:visit_detail", visit_id=rec.visit_id)
    return _entry_response(request, rec.visit_id, status=status,
                           errors={rec.pk: error} if error else {})


@require_POST
@permission_required("visits.write")
def recommendation_accept(request: HttpRequest, recommendation_id: int) -> HttpResponse:
    """Accept: onto the open job card, or booked for the time given (in the visit's time zone)."""
    rec = get_object_or_404(
        VisitRecommendation.objects.select_related("visit__location"), pk=recommendation_id
    )
    with timezone.override(zoneinfo.ZoneInfo(rec.visit.location.time_zone)):
        form = AcceptForm(request.POST)
        valid = form.is_valid()
    if not valid:
        return _decided(request, rec, error=" ".join(m for ms in form.errors.values() for m in ms))
    try:
        services.recommendation_accept(recommendation=rec, actor=_actor(request),
                                       start_at=form.cleaned_data["start_at"])
    except DomainError as exc:
        return _decided(request, rec, error=exc.message)
    messages.success(request, f"Accepted: {rec.service_template.name}.")
    return _decided(request, rec)


@require_POST
@permission_required("visits.write")
def recommendation_decline(request: HttpRequest, recommendation_id: int) -> HttpResponse:
    rec = get_object_or_404(VisitRecommendation.objects.select_related("visit"), pk=recommendation_id)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        return _decided(request, rec, error=" ".join(m for ms in form.errors.values() for m in ms))
    try:
        services.recommendation_decline(recommendation=rec, actor=_actor(request),
                                        reason=form.cleaned_data["reason"])
    except DomainError as exc:
        return _decided(request, rec, error=exc.message)
    messages.success(request, f"Declined: {rec.service_template.name}.")
    return _decided(request, rec)


# --- check-in -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required("visits.write")
def visit_check_in(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Check a customer's vehicle in, from a booking or as a walk-in."""
    customer = _customer(customer_id)
    if request.method == "POST":
        form = CheckInForm(request.POST, customer=customer)
    else:
        form = CheckInForm(customer=customer, initial={
            "location": customer.home_location_id, "vehicle": request.GET.get("vehicle"),
        })
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            visit = services.visit_check_in(
                actor=_actor(request), customer=customer, vehicle=data["vehicle"],
                appointment=data["appointment"], location=data["location"],
                odometer_in=data["odometer_in"],
            )
        except (DomainError, ValidationError) as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"{data['vehicle']} checked in.")
            return redirect(f"{reverse('visits:timeline', args=[customer.pk])}#visit-{visit.pk}")
    status = 422 if form.errors else 200
    return render(request, "visits/check_in.html", {"customer": customer, "form": form},
                  status=status)


# --- the customer's survey (no login) -------------------------------------------------------


@login_not_required
@require_http_methods(["GET", "POST"])
def satisfaction_survey(request: HttpRequest, token: str) -> HttpResponse:
    """The signed link from the follow-up message: the customer rates the visit once."""
    try:
        visit = services.satisfaction_link_visit(token=token)
    except (services.SatisfactionLinkInvalid, services.SatisfactionLinkExpired) as exc:
        return render(request, "visits/satisfaction_survey.html",
                      {"problem": exc.message}, status=exc.status_code)
    context = {"visit": visit, "token": token}
    if visit.satisfaction_score is not None:
        return render(request, "visits/satisfaction_survey.html",
                      {**context, "problem": services.AlreadyRated().message}, status=409)
    form = CustomerSatisfactionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            visit = services.visit_rate_from_link(token=token, **form.cleaned_data)
        except Conflict as exc:
            return render(request, "visits/satisfaction_survey.html",
                          {**context, "problem": exc.message}, status=409)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            return render(request, "visits/satisfaction_survey.html", {**context, "thanks": True})
    return render(request, "visits/satisfaction_survey.html", {**context, "form": form},
                  status=422 if form.errors else 200)
