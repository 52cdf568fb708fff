"""Segment screens: list, builder with live count, detail (chart, snapshots, explainer, export).

Thin: a form parses, a selector or service does the work, a template renders; htmx requests get
the partial the full page also includes.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError
from servicebay.core.roles import user_can
from servicebay.core.views import form_add_domain_error, permission_required
from servicebay.shop.models import Customer

from . import selectors, services
from .api import export_response
from .charts import count_chart
from .choices import ExportFormat
from .dsl import FIELDS as DSL_FIELDS
from .dsl import filter_dump, parse_filter
from .explain import explain_customer
from .forms import EXAMPLE_FILTER, ExplainForm, ExportForm, ImportForm, PreviewForm, SegmentForm
from .services.exports import FIELDS as EXPORT_FIELDS

DIFF_LIMIT = 100


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


@require_GET
@permission_required("segments.view")
def segment_list(request: HttpRequest) -> HttpResponse:
    return render(request, "segments/segment_list.html", {"segments": selectors.segment_list()})


def _builder_context(form: SegmentForm, segment=None) -> dict:
    return {"form": form, "segment": segment, "dsl_fields": DSL_FIELDS,
            "example": json.dumps(EXAMPLE_FILTER, indent=2)}


def _filter_text(data: dict) -> str:
    return json.dumps(data, indent=2)


@require_http_methods(["GET", "POST"])
@permission_required("segments.manage")
def segment_create(request: HttpRequest) -> HttpResponse:
    form = SegmentForm(request.POST or None, initial={"filter": _filter_text(EXAMPLE_FILTER)})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            segment = services.segment_create(
                actor=_actor(request), name=data["name"], description=data["description"],
                filter=filter_dump(data["filter"]), snapshot_every_hours=data["snapshot_every_hours"],
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"Segment “{segment.name}” saved with {segment.last_count:,} members.")
            return redirect("segments:segment_detail", pk=segment.pk)
    return render(request, "segments/segment_form.html", _builder_context(form),
                  status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@permission_required("segments.manage")
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(segment_id=pk)
    if not segment.is_dynamic:
        raise PermissionDenied("A static segment is a frozen list; import a new one instead.")
    initial = {"name": segment.name, "description": segment.description,
               "filter": _filter_text(segment.filter),
               "snapshot_every_hours": segment.snapshot_every_hours}
    form = SegmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.segment_update(
                segment=segment, actor=_actor(request), name=data["name"],
                description=data["description"], filter=filter_dump(data["filter"]),
                snapshot_every_hours=data["snapshot_every_hours"],
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, "Segment saved.")
            return redirect("segments:segment_detail", pk=segment.pk)
    return render(request, "segments/segment_form.html", _builder_context(form, segment),
                  status=422 if form.errors else 200)


@require_POST
@permission_required("segments.view")
def segment_preview(request: HttpRequest) -> HttpResponse:
    """Live count and sample for the builder (htmx, on every pause in typing)."""
    form = PreviewForm(request.POST)
    context: dict = {"form": form}
    if form.is_valid():
        try:
            context["preview"] = selectors.segment_preview(
                f=form.cleaned_data["filter"], as_of=form.cleaned_data["as_of"])
            context["as_of"] = form.cleaned_data["as_of"]
        except DomainError as exc:
            form.add_error("filter", exc.message)
    status = 422 if form.errors else 200
    return render(request, "segments/partials/preview.html", context, status=status)


def _detail_context(request: HttpRequest, segment) -> dict:
    snapshots = list(selectors.snapshot_list(segment=segment)[:20])
    pairs = [{"after": snapshots[i], "before": snapshots[i + 1]} for i in range(len(snapshots) - 1)]
    return {
        "segment": segment,
        "filter_text": _filter_text(segment.filter) if segment.is_dynamic else "",
        "chart": count_chart(selectors.segment_count_history(segment=segment)),
        "snapshots": snapshots,
        "diff_pairs": {p["after"].pk: p["before"] for p in pairs},
        "explain_form": ExplainForm(),
        "export_form": ExportForm(),
        "exports": selectors.export_log_list(segment=segment)[:10],
        "can_pii": user_can(request.user, "segments.export_pii"),
        "export_fields": EXPORT_FIELDS,
    }


@require_GET
@permission_required("segments.view")
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(segment_id=pk)
    return render(request, "segments/segment_detail.html", _detail_context(request, segment))


@require_POST
@permission_required("segments.manage")
def snapshot_take(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(segment_id=pk)
    try:
        snapshot = services.snapshot_take(segment=segment, actor=_actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Snapshot taken: {snapshot.member_count:,} members.")
    return redirect("segments:segment_detail", pk=segment.pk)


@require_POST
@permission_required("segments.manage")
def segment_count(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(segment_id=pk)
    point = services.segment_count(segment=segment)
    messages.success(request, f"{point.count:,} members now.")
    return redirect("segments:segment_detail", pk=segment.pk)


@require_POST
@permission_required("segments.manage")
def segment_archive(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(segment_id=pk)
    services.segment_archive(segment=segment, actor=_actor(request))
    messages.success(request, f"Segment “{segment.name}” archived.")
    return redirect("segments:segment_list")


@require_GET
@permission_required("segments.view")
def snapshot_diff(request: HttpRequest, pk: int, before_id: int, after_id: int) -> HttpResponse:
    segment = selectors.segment_get(segment_id=pk)
    diff = selectors.snapshot_diff(
        before=selectors.snapshot_get(segment=segment, snapshot_id=before_id),
        after=selectors.snapshot_get(segment=segment, snapshot_id=after_id),
    )
    return render(request, "segments/snapshot_diff.html", {
        "segment": segment, "diff": diff, "limit": DIFF_LIMIT,
        "entered": list(diff.entered[:DIFF_LIMIT]), "exited": list(diff.exited[:DIFF_LIMIT]),
        "entered_count": diff.entered.count(), "exited_count": diff.exited.count(),
    })


@require_GET
@permission_required("segments.view")
def segment_explain(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(segment_id=pk)
    form = ExplainForm(request.GET)
    context: dict = {"segment": segment, "explain_form": form}
    status = 200
    if not segment.is_dynamic:
        form.add_error(None, "A static segment has no filter to explain.")
    elif form.is_valid():
        customer = Customer.objects.filter(pk=form.cleaned_data["customer_id"]).first()
        if customer is None:
            form.add_error("customer_id", "No customer with this id.")
        else:
            as_of = form.cleaned_data["as_of"] or timezone.now()
            try:
                context["explanation"] = explain_customer(parse_filter(segment.filter),
                                                          customer=customer, as_of=as_of)
            except DomainError as exc:
                form.add_error(None, exc.message)
            context.update(customer=customer, as_of=as_of)
    if form.errors:
        status = 422
    template = "segments/partials/explanation.html" if request.htmx else "segments/explain_page.html"
    return render(request, template, context, status=status)


@require_GET
@permission_required("segments.export")
def segment_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Download a snapshot's consenting members (the same service the API streams from)."""
    segment = selectors.segment_get(segment_id=pk)
    form = ExportForm(request.GET)
    if not form.is_valid():
        context = _detail_context(request, segment)
        context["export_form"] = form
        return render(request, "segments/segment_detail.html", context, status=422)
    data = form.cleaned_data
    try:
        req = services.export_prepare(
            segment=segment, channel=data["channel"], purpose=data["purpose"],
            fields=data["fields"] or None,
            pii_allowed=user_can(request.user, "segments.export_pii"),
            header_style=data["header"],
        )
    except DomainError as exc:
        context = _detail_context(request, segment)
        context["export_form"] = form
        form_add_domain_error(form, exc)
        return render(request, "segments/segment_detail.html", context, status=exc.status_code)
    log = services.export_log_start(req=req, fmt=data["format"], actor_label=_actor(request).label,
                                    user=request.user)
    return export_response(req, fmt=data["format"] or ExportFormat.CSV, log=log)


@require_http_methods(["GET", "POST"])
@permission_required("segments.manage")
def segment_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = services.segment_import_static(
                actor=_actor(request), name=data["name"], description=data["description"],
                data=data["file"].read(),
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            note = f" {len(report.unmatched):,} row(s) matched nobody." if report.unmatched else ""
            messages.success(request, f"Imported {report.matched:,} of {report.rows:,} rows.{note}")
            return redirect("segments:segment_detail", pk=report.segment.pk)
    return render(request, "segments/segment_import.html", {"form": form},
                  status=422 if form.errors else 200)

