"""Loyalty screens. Thin: parse input with a form, call a selector or a service, render.

Service errors become inline form errors (422), never a 500. An htmx request gets the partial it
swaps in; the same partial renders inside the full page. The two panels other screens embed —
the customer's loyalty panel and the redeem form of a job card — are built by
``customer_panel_context`` and ``redeem_panel_context`` here, for both the views and the template
tags in ``templatetags/loyalty.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError
from servicebay.core.pagination import InvalidCursor, keyset_page
from servicebay.core.roles import user_can
from servicebay.core.views import form_add_domain_error, permission_required
from servicebay.shop.models import Customer, JobCard

from . import selectors, services
from .api import ledger_csv_response
from .forms import RULE_FIELDS, AdjustForm, PreviewForm, ProgramForm, RedeemForm
from .models import LoyaltyProgram, LoyaltyTransaction
from .rules import InvalidRules, redemption_value, rules_parse

LEDGER_PAGE = 20
DEFAULT_RULES = {
    "accrual_rule": {"points_per_unit": "1", "eligible_kinds": ["labor", "part"], "rounding": "down"},
    "redemption_rule": {"value_per_point": "0.01", "minimum_points": 100, "step": 50,
                        "max_invoice_share": "0.5"},
    "tiers": {"basis": "lifetime", "downgrade": False, "levels": [
        {"code": "member", "name": "Member", "threshold": 0},
        {"code": "silver", "name": "Silver", "threshold": 1000},
        {"code": "gold", "name": "Gold", "threshold": 5000},
    ]},
}


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def _status(*forms) -> int:
    return 422 if any(form is not None and form.errors for form in forms) else 200


def _next_url(request: HttpRequest, fallback: str) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return fallback


def _optional_url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


# --- programs ----------------------------------------------------------------------------------


@require_GET
@permission_required("loyalty.view")
def program_list(request: HttpRequest) -> HttpResponse:
    return render(request, "loyalty/program_list.html", {"programs": selectors.program_list()})


def _program_form_page(request, form: ProgramForm, program: LoyaltyProgram | None) -> HttpResponse:
    context = {
        "form": form, "program": program, "preview_form": PreviewForm(),
        "versions": selectors.program_versions(program_id=program.pk)[:20] if program else [],
    }
    return render(request, "loyalty/program_form.html", context, status=_status(form))


def _save_program(request, form: ProgramForm, program: LoyaltyProgram | None) -> LoyaltyProgram | None:
    data = form.cleaned_data
    try:
        if program is None:
            return services.program_create(actor=_actor(request), **data)
        return services.program_update(program=program, actor=_actor(request), **data)
    except InvalidRules as exc:
        form.add_rule_errors(exc)
    except (DomainError, ValidationError) as exc:
        form_add_domain_error(form, exc)
    return None


@require_http_methods(["GET", "POST"])
@permission_required("loyalty.manage")
def program_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        initial = {name: json.dumps(value, indent=2) for name, value in DEFAULT_RULES.items()}
        return _program_form_page(request, ProgramForm(initial=initial), None)
    form = ProgramForm(request.POST)
    if form.is_valid() and (program := _save_program(request, form, None)) is not None:
        messages.success(request, f"Created “{program.name}”.")
        return redirect("loyalty:program_edit", pk=program.pk)
    return _program_form_page(request, form, None)


@require_http_methods(["GET", "POST"])
@permission_required("loyalty.manage")
def program_edit(request: HttpRequest, pk: int) -> HttpResponse:
    program = selectors.program_get(program_id=pk)
    if request.method == "GET":
        return _program_form_page(request, ProgramForm.for_program(program), program)
    form = ProgramForm(request.POST)
    if form.is_valid():
        version = program.current_version.number
        if (saved := _save_program(request, form, program)) is not None:
            saved = selectors.program_get(program_id=pk)
            note = (f" Rules saved as version {saved.current_version.number}."
                    if saved.current_version.number != version else "")
            messages.success(request, f"Saved “{saved.name}”.{note}")
            return redirect("loyalty:program_edit", pk=pk)
    return _program_form_page(request, form, program)


@require_POST
@permission_required("loyalty.manage")
def program_preview(request: HttpRequest) -> HttpResponse:
    """The editor's live "this invoice would earn N points", from the unsaved rules."""
    form, sample = ProgramForm(request.POST), PreviewForm(request.POST)
    context: dict = {"sample": sample, "errors": []}
    form.is_valid()
    bad_json = [f"{form.fields[name].label}: {e}" for name in RULE_FIELDS for e in form.errors.get(name, [])]
    if bad_json or not sample.is_valid():
        context["errors"] = bad_json or ["Check the sample invoice amounts."]
        return render(request, "loyalty/partials/preview.html", context)
    try:
        rules = rules_parse(**{name: form.cleaned_data[name] for name in RULE_FIELDS})
    except InvalidRules as exc:
        context["errors"] = [f"{'.'.join(path)}: {msg}" for path, msg in exc.errors]
        return render(request, "loyalty/partials/preview.html", context)
    accrual, steps = selectors.accrual_preview(
        rules=rules, lines=sample.lines(), tier=sample.cleaned_data.get("tier") or "",
        currency=form.cleaned_data.get("currency") or "USD",
    )
    context.update(accrual=accrual, steps=steps, currency=form.cleaned_data.get("currency") or "USD",
                   value=redemption_value(rules.redemption, accrual.points))
    return render(request, "loyalty/partials/preview.html", context)


# --- a customer's loyalty ----------------------------------------------------------------------


def customer_panel_context(request: HttpRequest, customer: Customer,
                           adjust_form: AdjustForm | None = None) -> dict:
    """Everything ``loyalty/partials/customer_panel_body.html`` shows for one customer."""
    can_adjust = user_can(request.user, "loyalty.adjust")
    summaries = selectors.loyalty_summaries(customer_id=customer.pk)
    sections = []
    for summary in summaries:
        page = None
        if summary.balance_id:
            page = keyset_page(selectors.ledger_for_balance(balance_id=summary.balance_id),
                               order=("-id",), cursor=None, limit=LEDGER_PAGE,
                               scope=f"loyalty-ledger:{summary.balance_id}")
        sections.append({"summary": summary, "page": page})
    programs = LoyaltyProgram.objects.filter(pk__in=[s.program_id for s in summaries])
    if can_adjust and adjust_form is None and summaries:
        adjust_form = AdjustForm(programs=programs, initial={"program": summaries[0].program_id})
    return {
        "customer": customer, "sections": sections, "can_adjust": can_adjust,
        "adjust_form": adjust_form if can_adjust else None,
        "can_report": user_can(request.user, "loyalty.report"),
    }


@require_GET
@permission_required("loyalty.view")
def customer_loyalty(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("home_location"), pk=customer_id)
    context = customer_panel_context(request, customer)
    if request.htmx:
        return render(request, "loyalty/partials/customer_panel_body.html", context)
    context["customer_url"] = _optional_url("shop:customer_detail", customer.pk)
    return render(request, "loyalty/customer_loyalty.html", context)


@require_GET
@permission_required("loyalty.view")
def ledger_rows(request: HttpRequest, balance_id: int) -> HttpResponse:
    """The next page of a balance's ledger (the panel's "Show older" button)."""
    balance = selectors.balance_get(balance_id=balance_id)
    try:
        page = keyset_page(selectors.ledger_for_balance(balance_id=balance_id), order=("-id",),
                           cursor=request.GET.get("cursor"), limit=LEDGER_PAGE,
                           scope=f"loyalty-ledger:{balance_id}")
    except InvalidCursor:
        page = keyset_page(selectors.ledger_for_balance(balance_id=balance_id), order=("-id",),
                           cursor=None, limit=LEDGER_PAGE, scope=f"loyalty-ledger:{balance_id}")
    return render(request, "loyalty/partials/ledger_rows.html",
                  {"page": page, "balance_id": balance.pk, "currency": balance.program.currency})


@require_GET
@permission_required("loyalty.view")
def transaction_explain(request: HttpRequest, pk: int) -> HttpResponse:
    """Why a ledger row has its points: recomputed from its rule version and the lines it saw."""
    tx = get_object_or_404(
        LoyaltyTransaction.objects.select_related(
            "rule_version", "reverses", "created_by_user", "balance__customer", "balance__program"
        ),
        pk=pk,
    )
    context = {"explanation": selectors.transaction_explain(transaction=tx), "tx": tx}
    template = "loyalty/partials/explanation.html" if request.htmx else "loyalty/transaction_detail.html"
    return render(request, template, context)


@require_POST
@permission_required("loyalty.adjust")
def points_adjust(request: HttpRequest, customer_id: int) -> HttpResponse:
    """A manager's correction, reason required; the panel re-renders with the new row."""
    customer = get_object_or_404(Customer.objects.select_related("home_location"), pk=customer_id)
    programs = LoyaltyProgram.objects.all()
    form = AdjustForm(request.POST, programs=programs)
    if form.is_valid():
        try:
            services.points_adjust(customer=customer, program=form.cleaned_data["program"],
                                   points=form.cleaned_data["points"],
                                   reason=form.cleaned_data["reason"], actor=_actor(request))
        except (DomainError, ValidationError) as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"Adjusted by {form.cleaned_data['points']:+,} points.")
            if not request.htmx:
                return redirect("loyalty:customer_loyalty", customer_id=customer.pk)
            form = None
    context = customer_panel_context(request, customer, adjust_form=form)
    if request.htmx:
        return render(request, "loyalty/partials/customer_panel_body.html", context,
                      status=_status(form))
    return render(request, "loyalty/customer_loyalty.html", context, status=_status(form))


# --- redemption on a job card ------------------------------------------------------------------


def redeem_panel_context(request: HttpRequest, card: JobCard, form: RedeemForm | None = None) -> dict:
    """Everything ``loyalty/partials/redeem_panel.html`` shows for one job card."""
    quote = selectors.redeem_quote(job_card=card)
    can_redeem = user_can(request.user, "loyalty.redeem") and quote.max_points > 0
    if form is None and can_redeem:
        form = RedeemForm(initial={"points": quote.max_points})
    if form is not None:
        form.fields["points"].widget.attrs.update(
            {"max": quote.max_points or None, "step": quote.step, "min": max(quote.minimum_points, 1)}
        )
    return {
        "card": card, "quote": quote, "redeem_form": form, "can_redeem": can_redeem,
        "redemptions": list(selectors.job_card_redemptions(job_card_id=card.pk)),
        "currency": card.location.currency,
    }


def _card(pk: int) -> JobCard:
    return get_object_or_404(JobCard.objects.select_related("location", "customer", "vehicle"), pk=pk)


@require_http_methods(["GET", "POST"])
def job_card_loyalty(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the job card's points (redeem form, redemptions). POST: redeem points on it."""
    needed = "loyalty.redeem" if request.method == "POST" else "loyalty.view"
    if not user_can(request.user, needed):
        raise PermissionDenied(f"This needs the '{needed}' permission.")
    card = _card(pk)
    form = None
    if request.method == "POST":
        form = RedeemForm(request.POST)
        if form.is_valid():
            try:
                row = services.points_redeem(job_card=card, points=form.cleaned_data["points"],
                                             actor=_actor(request))
            except (DomainError, ValidationError) as exc:
                form_add_domain_error(form, exc)
            else:
                messages.success(request, f"Redeemed {-row.points:,} points for "
                                          f"{row.details['value']} {row.details['currency']}.")
                # The page the form sits on shows new lines and totals: load it again.
                url = _next_url(request, reverse("loyalty:job_card_loyalty", args=[pk]))
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = redeem_panel_context(request, _card(pk), form)
    if request.htmx:
        return render(request, "loyalty/partials/redeem_panel.html", context, status=_status(form))
    context.update(lines=list(card.lines.select_related("part").order_by("position", "id")),
                   job_card_url=_optional_url("shop:job_card_detail", card.pk))
    return render(request, "loyalty/job_card_loyalty.html", context, status=_status(form))


# --- reports -----------------------------------------------------------------------------------


@require_GET
@permission_required("loyalty.report")
def liability_report(request: HttpRequest) -> HttpResponse:
    rows = selectors.liability_report()
    totals: dict[str, dict] = {}
    for row in rows:
        total = totals.setdefault(row.currency, {"currency": row.currency, "points": 0, "value": 0,
                                                 "members": 0})
        total["points"] += row.points
        total["value"] += row.value
        total["members"] += row.members
    return render(request, "loyalty/liability_report.html",
                  {"rows": rows, "totals": list(totals.values()), "programs": selectors.program_list()})


def _datetime_param(request: HttpRequest, name: str) -> datetime | None:
    value = request.GET.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return (parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


@require_GET
@permission_required("loyalty.report")
def ledger_export(request: HttpRequest) -> HttpResponse:
    """The ledger as CSV, streamed (filters: program, customer, since, until)."""
    rows = selectors.ledger_export_rows(
        program_id=_int_param(request, "program"), customer_id=_int_param(request, "customer"),
        since=_datetime_param(request, "since"), until=_datetime_param(request, "until"),
    )
    return ledger_csv_response(rows)
