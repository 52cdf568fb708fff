"""Why a ledger row has its points, in sentences: "why did I get 37 points?"."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from servicebay.core.money import format_money

from ..choices import Rounding, TransactionType
from ..models import LoyaltyRuleVersion, LoyaltyTransaction
from ..rules import Accrual, LineInput, ProgramRules, accrual_compute, rules_from_json

TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class Explanation:
    """Why a ledger row has the points it has, in sentences, plus the accrual when it is an earn."""

    transaction: LoyaltyTransaction
    headline: str
    steps: list[str]
    accrual: Accrual | None = None
    rule_version: int | None = None
    consistent: bool = True  # the recomputation from the recorded inputs gives the row's points


def _money(amount: Decimal | str, currency: str) -> str:
    return format_money(Decimal(amount), currency)


def transaction_explain(*, transaction: LoyaltyTransaction) -> Explanation:
    """Recompute the row from the rule version it recorded and the job lines it saw."""
    tx, details = transaction, transaction.details or {}
    version = tx.rule_version
    number = version.number if version else None
    if tx.type == TransactionType.EARN and version is not None and "lines" in details:
        return _explain_earn(tx, version)
    currency = details.get("currency", "")
    if tx.type == TransactionType.REDEEM:
        value = details.get("value", "0")
        return Explanation(tx, f"Redeemed {-tx.points:,} points for a {_money(value, currency or 'USD')} discount",
                           [f"{-tx.points:,} points {TIMES} {details.get('value_per_point')} per point = "
                            f"{_money(value, currency or 'USD')}, as a discount line on job card "
                            f"{details.get('job_card_number', '')}."], rule_version=number)
    if tx.type == TransactionType.EXPIRE:
        steps = [f"{lot['points']:,} points of ledger row #{lot['transaction_id']} expired on "
                 f"{lot['expires_at'][:10]}." for lot in details.get("lots", [])]
        return Explanation(tx, f"{-tx.points:,} points expired", steps, rule_version=number)
    if tx.reverses_id:
        original = tx.reverses
        steps = [f"Reverses ledger row #{original.pk} ({original.get_type_display().lower()}, "
                 f"{original.points:+,} points): {details.get('reason', 'reversal')}."]
        if details.get("owed"):
            steps.append(f"{details['owed']:,} of those points had already been spent; they are "
                         "owed and will be settled from the next points credited.")
        return Explanation(tx, f"Reversal of #{original.pk}", steps, rule_version=number)
    if details.get("settles_owed"):
        return Explanation(tx, "Settles points owed",
                           [f"{details['settles_owed']:,} points owed from an earlier reversal were "
                            f"taken from credit #{tx.reference_id}."], rule_version=number)
    who = tx.created_by_user.get_full_name() if tx.created_by_user else tx.created_by
    return Explanation(tx, f"Manual adjustment by {who}", [f"Reason: {tx.notes}"], rule_version=number)


def accrual_steps(accrual: Accrual, currency: str) -> list[str]:
    """The computation of an accrual, one sentence per step, as the panel and preview show it."""
    rule = accrual.rule
    ppu = rule.points_per_unit.normalize()
    steps = []
    if accrual.discount_factor != 1:
        steps.append(f"Discounts of {_money(accrual.discounts, currency)} reduce every eligible line "
                     f"to {(accrual.discount_factor * 100).quantize(Decimal('0.1'))} % of its price.")
    for item in accrual.lines:
        line = item.line
        label = f"{line.description or line.kind} ({line.kind}{', ' + line.category if line.category else ''})"
        if not item.eligible:
            steps.append(f"{label}, {_money(abs(line.net), currency)}: no points, {item.reason}.")
            continue
        text = f"{label}: {_money(item.spend, currency)} {TIMES} {ppu} points per unit"
        if item.multiplier != 1:
            text += f" {TIMES} {item.multiplier.normalize()} ({line.category} bonus)"
        steps.append(f"{text} = {item.points.normalize():f} points.")
    if accrual.tier_multiplier != 1:
        steps.append(f"Tier {accrual.tier_code}: {TIMES} {accrual.tier_multiplier.normalize()}.")
    if accrual.below_minimum:
        steps.append(f"Eligible spend {_money(accrual.eligible_spend, currency)} is under the "
                     f"minimum of {_money(rule.minimum_spend, currency)}: no points.")
    else:
        rounding = Rounding(rule.rounding).label.lower().removeprefix("round ")
        steps.append(f"{accrual.raw_points.normalize():f} points, rounded {rounding}: "
                     f"{accrual.points:,} points.")
    return steps


def accrual_preview(
    *, rules: ProgramRules, lines: list[LineInput], tier: str = "", currency: str = "USD"
) -> tuple[Accrual, list[str]]:
    """What an invoice would earn under (possibly unsaved) rules — the editor's live preview."""
    accrual = accrual_compute(rules.accrual, lines, tier_code=tier)
    return accrual, accrual_steps(accrual, currency)


def _explain_earn(tx: LoyaltyTransaction, version: LoyaltyRuleVersion) -> Explanation:
    details = tx.details
    rules = rules_from_json(version.rules_json())
    lines = [LineInput.from_json(item) for item in details["lines"]]
    accrual, steps = accrual_preview(rules=rules, lines=lines, tier=details.get("tier", ""),
                                     currency=details.get("currency", "USD"))
    return Explanation(
        tx, f"Earned {tx.points:,} points on job card {details.get('job_card_number', '')}", steps,
        accrual=accrual, rule_version=version.number, consistent=accrual.points == tx.points,
    )
