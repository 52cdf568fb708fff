"""Every write of the loyalty app, one module per subject; import them from here.

- ``programs``: programs and their immutable rule versions.
- ``posting``: the one way to append a ledger row (lock the balance, append, move, record).
- ``earning``: earn on completed job cards, reverse when reopened or cancelled.
- ``redemption``: pay part of a job card with points; restore them when the discount goes.
- ``adjustments``: a manager's corrections.
- ``expiry``: expire unspent points, FIFO by expiry date.
- ``tiers``: move members between tiers.
"""

from .adjustments import points_adjust
from .earning import points_earn_for_job_card, points_reverse_for_job_card
from .expiry import EXPIRY_ACTOR, points_expire_due, points_expire_for_balance
from .programs import program_create, program_update
from .redemption import (
    points_redeem,
    points_restore_for_job_card,
    points_restore_for_line,
    redemption_lines_check,
)
from .tiers import TIERS_ACTOR, tier_evaluate, tiers_refresh

__all__ = [
    "EXPIRY_ACTOR",
    "TIERS_ACTOR",
    "points_adjust",
    "points_earn_for_job_card",
    "points_expire_due",
    "points_expire_for_balance",
    "points_redeem",
    "points_restore_for_job_card",
    "points_restore_for_line",
    "points_reverse_for_job_card",
    "program_create",
    "program_update",
    "redemption_lines_check",
    "tier_evaluate",
    "tiers_refresh",
]
