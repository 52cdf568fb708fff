"""Every read of the loyalty app that a page, endpoint, command or another app needs; import
them from here.

- ``programs``: programs, their current rules, the active program of a currency.
- ``ledger``: balances and ledger rows, job card lines as accrual sees them, invoice caps.
- ``members``: ``loyalty_summary(customer_id=…)`` — a customer's standing, for panels and KPIs.
- ``explain``: why a ledger row has its points; the editor's live preview.
- ``checkout``: what the redeem form offers on a job card.
- ``audit``: drift between balances and ledgers, liability, the ledger export.
"""

from .audit import (
    LEDGER_EXPORT_COLUMNS,
    Drift,
    LiabilityRow,
    balance_drifts,
    ledger_export_rows,
    liability_report,
)
from .checkout import RedeemQuote, job_card_redemptions, redeem_quote
from .explain import Explanation, accrual_preview, accrual_steps, transaction_explain
from .ledger import (
    balance_get,
    job_card_line_inputs,
    job_card_rows,
    job_cards_line_inputs,
    ledger_for_balance,
    ledger_rows,
    qualifying_points,
    redemption_cap,
    standing_redeems,
)
from .members import LoyaltySummary, loyalty_summaries, loyalty_summary
from .programs import (
    program_for_currency,
    program_get,
    program_list,
    program_rules,
    program_versions,
)

__all__ = [
    "LEDGER_EXPORT_COLUMNS",
    "Drift",
    "Explanation",
    "LiabilityRow",
    "LoyaltySummary",
    "RedeemQuote",
    "accrual_preview",
    "accrual_steps",
    "balance_drifts",
    "balance_get",
    "job_card_line_inputs",
    "job_card_redemptions",
    "job_card_rows",
    "job_cards_line_inputs",
    "ledger_export_rows",
    "ledger_for_balance",
    "ledger_rows",
    "liability_report",
    "loyalty_summaries",
    "loyalty_summary",
    "program_for_currency",
    "program_get",
    "program_list",
    "program_rules",
    "program_versions",
    "qualifying_points",
    "redeem_quote",
    "redemption_cap",
    "standing_redeems",
    "transaction_explain",
]
