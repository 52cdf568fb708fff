"""The part picker of a job card's line form: search the catalogue while typing, choose one part.

With htmx the search answers the matching parts and a choice answers the picker with the part
filled in, plus out-of-band swaps that make the line a part line and show the part's name and price
as the description and unit price it defaults to. Without JavaScript the same search and choice
arrive as GET parameters of the job card page (``part_q``, ``pick``), so the form still works.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from servicebay.core.views import permission_required

from .. import selectors
from ..choices import JobLineKind
from ..forms import JobLineForm
from ..models import JobCard, Part

# A query longer than the longest part number matches nothing more.
PART_QUERY_MAX = Part._meta.get_field("sku").max_length
UNKNOWN_PART = JobLineForm.base_fields["part"].error_messages["invalid_choice"]


def _part_query(request: HttpRequest) -> str:
    return request.GET.get("part_q", "").strip()[:PART_QUERY_MAX]


def _picked(value: str | None) -> tuple[Part | None, str]:
    """The active part a choice names, or why it cannot be used (stale results, a tampered id)."""
    if not value:
        return None, ""
    part = selectors.part_list_active().filter(pk=value).first() if value.isdigit() else None
    return (part, "") if part is not None else (None, UNKNOWN_PART)


def line_form_with_picker(request: HttpRequest) -> tuple[JobLineForm, dict]:
    """A fresh line form and its picker's state; a search or choice made without JavaScript (GET
    parameters of the job card page) is honoured."""
    part, error = _picked(request.GET.get("pick"))
    form = JobLineForm(initial={"kind": JobLineKind.PART, "part": part} if part else {},
                       parts=selectors.part_list_active())
    query = "" if part else _part_query(request)
    return form, {
        "part_query": query,
        "part_matches": selectors.part_search(query=query) if query else [],
        "pick_error": error,
    }


def _mark_out_of_band(form: JobLineForm, part: Part) -> None:
    """The line's type, description and unit price are swapped in beside the picker (htmx OOB)."""
    for name in ("kind", "description", "unit_price"):
        form.fields[name].widget.attrs["hx-swap-oob"] = "true"
    form.fields["description"].widget.attrs["placeholder"] = part.name
    form.fields["unit_price"].widget.attrs["placeholder"] = f"{part.price}"


@require_GET
@permission_required("jobcards.write")
def job_card_part_search(request: HttpRequest, pk: int) -> HttpResponse:
    """The picker's answers (htmx): up to 20 active parts matching ``part_q``; with ``pick``, the
    picker with that part chosen (an unknown or inactive part is an inline error, 422)."""
    card = get_object_or_404(JobCard.objects.select_related("location").only("pk", "location__currency"),
                             pk=pk)
    context = {"card": card, "currency": card.location.currency}
    if "pick" not in request.GET:
        query = _part_query(request)
        return render(request, "shop/partials/part_results.html", {
            **context, "part_query": query, "part_matches": selectors.part_search(query=query),
        })
    part, error = _picked(request.GET.get("pick"))
    # What the advisor already typed in the description and price is kept (hx-include).
    form = JobLineForm(initial={
        "kind": JobLineKind.PART, "part": part,
        "description": request.GET.get("description", "")[:200],
        "unit_price": request.GET.get("unit_price", "")[:20],
    }, parts=selectors.part_list_active())
    if part is not None:
        _mark_out_of_band(form, part)
    return render(request, "shop/partials/part_picker.html", {
        **context, "form": form, "pick_error": error, "picked": part is not None,
    }, status=422 if error else 200)
