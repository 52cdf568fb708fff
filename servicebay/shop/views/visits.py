"""The visit of a job card: check-in, check-out and the customer's rating."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from servicebay.core.views import permission_required
from servicebay.visits import services as visit_services
from servicebay.visits.models import CustomerVisit

from ..forms import VisitRatingForm
from ..models import JobCard
from .job_cards import _job_card_context
from .shared import WriteError, _actor, _add_error, _error_text, _redirect


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
