"""Loyalty endpoints. Thin: check the permission, parse, call a service or selector."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from itertools import chain

from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Query, Router, Status

from servicebay.core.api_auth import actor_of, require
from servicebay.core.errors import DomainError
from servicebay.core.pagination import keyset_page
from servicebay.core.schemas import ERRORS
from servicebay.shop.models import Customer, JobCard, JobLine

from . import selectors, services
from .errors import InvalidQuery
from .models import LoyaltyProgram, LoyaltyTransaction
from .rules import LineInput, rules_parse
from .schemas import (
    AccrualPreviewIn,
    AdjustIn,
    ExplanationOut,
    LiabilityRowOut,
    PreviewOut,
    ProgramIn,
    ProgramOut,
    ProgramPage,
    ProgramPatch,
    QuoteOut,
    RedeemIn,
    RedeemOut,
    RuleVersionOut,
    SummaryOut,
    TransactionPage,
)

router = Router(tags=["loyalty"])

Limit = Query(50, ge=1, le=200, description="Page size.")


# --- programs ----------------------------------------------------------------------------------


@router.get("/loyalty/programs", response={200: ProgramPage, **ERRORS})
def program_list(request: HttpRequest, active: bool | None = None, cursor: str | None = None,
                 limit: int = Limit):
    require(request, "loyalty.view")
    page = keyset_page(selectors.program_list(active=active), order=("id",), cursor=cursor,
                       limit=limit, scope="loyalty-programs")
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/loyalty/programs", response={201: ProgramOut, **ERRORS})
def program_create(request: HttpRequest, payload: ProgramIn):
    require(request, "loyalty.manage")
    program = services.program_create(actor=actor_of(request), **payload.dict())
    return Status(201, selectors.program_get(program_id=program.pk))


@router.get("/loyalty/programs/{program_id}", response={200: ProgramOut, **ERRORS})
def program_get(request: HttpRequest, program_id: int):
    require(request, "loyalty.view")
    return selectors.program_get(program_id=program_id)


@router.patch("/loyalty/programs/{program_id}", response={200: ProgramOut, **ERRORS})
def program_update(request: HttpRequest, program_id: int, payload: ProgramPatch):
    """Change a program. Changed rules become a new version; programs are retired with
    ``is_active: false``, never deleted, because ledger rows keep pointing at their rules."""
    require(request, "loyalty.manage")
    program = get_object_or_404(LoyaltyProgram, pk=program_id)
    services.program_update(program=program, actor=actor_of(request),
                            **payload.dict(exclude_unset=True, exclude_none=True))
    return selectors.program_get(program_id=program_id)


@router.get("/loyalty/programs/{program_id}/versions", response={200: list[RuleVersionOut], **ERRORS})
def program_versions(request: HttpRequest, program_id: int):
    require(request, "loyalty.view")
    get_object_or_404(LoyaltyProgram, pk=program_id)
    return list(selectors.program_versions(program_id=program_id)[:200])


@router.post("/loyalty/preview", response={200: PreviewOut, **ERRORS})
def accrual_preview(request: HttpRequest, payload: AccrualPreviewIn):
    """What an invoice would earn under the given (unsaved) rules."""
    require(request, "loyalty.view")
    rules = rules_parse(accrual_rule=payload.accrual_rule, redemption_rule=payload.redemption_rule,
                        tiers=payload.tiers)
    lines = [
        LineInput(line_id=None, kind=line.kind, description=line.description, category=line.category,
                  payer=line.payer, net=-line.amount if line.kind == "discount" else line.amount)
        for line in payload.lines
    ]
    accrual, steps = selectors.accrual_preview(rules=rules, lines=lines, tier=payload.tier)
    return {"points": accrual.points, "eligible_spend": accrual.eligible_spend, "steps": steps}


# --- members -----------------------------------------------------------------------------------


@router.get("/customers/{customer_id}/loyalty", response={200: list[SummaryOut], **ERRORS})
def customer_loyalty(request: HttpRequest, customer_id: int):
    """The customer's standing in every program (and active programs they could join)."""
    require(request, "loyalty.view")
    get_object_or_404(Customer, pk=customer_id)
    return selectors.loyalty_summaries(customer_id=customer_id)


@router.get("/loyalty/balances/{balance_id}/transactions", response={200: TransactionPage, **ERRORS})
def balance_ledger(request: HttpRequest, balance_id: int, cursor: str | None = None, limit: int = Limit):
    require(request, "loyalty.view")
    selectors.balance_get(balance_id=balance_id)
    page = keyset_page(selectors.ledger_for_balance(balance_id=balance_id), order=("-id",),
                       cursor=cursor, limit=limit, scope=f"loyalty-ledger:{balance_id}")
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/loyalty/transactions/{transaction_id}", response={200: ExplanationOut, **ERRORS})
def transaction_get(request: HttpRequest, transaction_id: int):
    """One ledger row with the reason for its points, recomputed from its rule version."""
    require(request, "loyalty.view")
    tx = get_object_or_404(
        LoyaltyTransaction.objects.select_related("rule_version", "reverses", "created_by_user"),
        pk=transaction_id,
    )
    explanation = selectors.transaction_explain(transaction=tx)
    return {"transaction": tx, "headline": explanation.headline, "steps": explanation.steps,
            "rule_version": explanation.rule_version, "consistent": explanation.consistent}


@router.post("/customers/{customer_id}/loyalty/adjustments", response={201: ExplanationOut, **ERRORS})
def points_adjust(request: HttpRequest, customer_id: int, payload: AdjustIn):
    """A manager's correction; the reason is kept on the ledger row."""
    require(request, "loyalty.adjust")
    customer = get_object_or_404(Customer, pk=customer_id)
    program = LoyaltyProgram.objects.filter(pk=payload.program_id).first()
    if program is None:
        raise DomainError(f"No loyalty program with id {payload.program_id}.", field="program_id")
    tx = services.points_adjust(customer=customer, program=program, points=payload.points,
                                reason=payload.reason, actor=actor_of(request),
                                idempotency_key=payload.idempotency_key)
    return Status(201, {"transaction": tx, "headline": f"Adjusted by {tx.points:+,} points",
                        "steps": [f"Reason: {tx.notes}"], "rule_version": None, "consistent": True})


# --- checkout ----------------------------------------------------------------------------------


@router.get("/job-cards/{job_card_id}/loyalty", response={200: QuoteOut, **ERRORS})
def redeem_quote(request: HttpRequest, job_card_id: int):
    """How many points the customer could use on this job card now."""
    require(request, "loyalty.view")
    card = get_object_or_404(JobCard.objects.select_related("location"), pk=job_card_id)
    q = selectors.redeem_quote(job_card=card)
    return {
        "program_id": q.program.pk if q.program else None, "available": q.available,
        "max_points": q.max_points, "value_per_point": q.value_per_point, "step": q.step,
        "minimum_points": q.minimum_points, "cap": q.cap, "already_redeemed": q.already_redeemed,
        "editable": q.editable, "reason": q.reason,
    }


@router.post("/job-cards/{job_card_id}/loyalty/redeem", response={201: RedeemOut, **ERRORS})
def points_redeem(request: HttpRequest, job_card_id: int, payload: RedeemIn):
    """Pay part of the job card with points: adds a discount line and a Redeem ledger row."""
    require(request, "loyalty.redeem")
    card = get_object_or_404(JobCard, pk=job_card_id)
    tx = services.points_redeem(job_card=card, points=payload.points, actor=actor_of(request),
                                idempotency_key=payload.idempotency_key)
    card.refresh_from_db(fields=["total"])
    return Status(201, {
        "transaction": tx, "line": JobLine.objects.filter(pk=tx.job_line_id).first(),
        "job_card_total": card.total, "points_balance": tx.balance_after,
    })


# --- reports -----------------------------------------------------------------------------------


@router.get("/loyalty/reports/liability", response={200: list[LiabilityRowOut], **ERRORS})
def liability_report(request: HttpRequest):
    """Outstanding points and their value at today's redemption rate, by program and tier."""
    require(request, "loyalty.report")
    return selectors.liability_report()


class _Echo:
    def write(self, value: str) -> str:
        return value


def ledger_csv_response(rows, filename: str = "loyalty-ledger.csv") -> StreamingHttpResponse:
    """Stream the ledger as CSV: constant memory however long it is."""
    writer = csv.writer(_Echo())
    lines = chain([selectors.LEDGER_EXPORT_COLUMNS], rows)
    response = StreamingHttpResponse((writer.writerow(line) for line in lines),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.get(
    "/loyalty/ledger/export",
    response={**ERRORS},
    openapi_extra={"responses": {200: {"description": "The ledger as CSV, streamed.",
                                       "content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def ledger_export(
    request: HttpRequest,
    # Bounded here: the CSV streams after its 200 is sent, so the database must never overflow.
    program_id: int | None = Query(None, ge=1, le=2**63 - 1),
    customer_id: int | None = Query(None, ge=1, le=2**63 - 1),
    since: datetime | None = None,
    until: datetime | None = None,
):
    """Every ledger row (optionally of one program or customer, in a time range) as CSV."""
    require(request, "loyalty.report")
    rows = selectors.ledger_export_rows(program_id=program_id, customer_id=customer_id,
                                        since=_utc(since, "since"), until=_utc(until, "until"))
    return ledger_csv_response(rows)


def _utc(value: datetime | None, field: str) -> datetime | None:
    """A time from the URL in UTC; checked here because the CSV streams after its 200 is sent."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidQuery("Give a time between the years 1 and 9999.", field=field) from None
