"""Job cards: walk-in, list, the card page, its lines and status moves."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from servicebay.core.roles import user_can
from servicebay.core.views import permission_required
from servicebay.visits import services as visit_services
from servicebay.visits.choices import SATISFACTION_LINK_MAX_AGE
from servicebay.visits.models import CustomerVisit

from .. import selectors, services
from ..choices import JOB_CARD_TRANSITIONS, JobCardStatus
from ..forms import JobCardFilterForm, JobLineForm, VisitRatingForm, WalkInForm
from ..models import JobCard, JobLine
from .part_picker import line_form_with_picker
from .shared import (
    WriteError,
    _actor,
    _add_error,
    _default_location,
    _error_text,
    _keyset,
    _redirect,
    _status,
)


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
    picker = {}
    if can_edit and line_form is None:
        line_form, picker = line_form_with_picker(request)
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
        **picker, **visit_context,
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
