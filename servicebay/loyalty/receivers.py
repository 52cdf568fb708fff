"""Loyalty's reactions to the shop, run inside the shop's transaction (see shop/signals.py).

An exception here rolls the shop's change back with it, so a job card is never completed without
its earn, reopened without its reversal, or a discount line removed without its points returned.
"""

from __future__ import annotations

from servicebay.shop.choices import JobCardStatus

from . import services


def on_job_card_status_changed(sender, *, job_card, previous, actor, **kwargs) -> None:
    status = job_card.status
    if status in (JobCardStatus.COMPLETED, JobCardStatus.CLOSED):
        services.points_earn_for_job_card(job_card=job_card, actor=actor)
    elif status == JobCardStatus.IN_PROGRESS and previous == JobCardStatus.COMPLETED:
        services.points_reverse_for_job_card(job_card=job_card, actor=actor, reason="job card reopened")
    elif status == JobCardStatus.CANCELLED:
        services.points_reverse_for_job_card(job_card=job_card, actor=actor, reason="job card cancelled")
        services.points_restore_for_job_card(job_card=job_card, actor=actor, reason="job card cancelled")


def on_job_line_removed(sender, *, job_card, line, actor, **kwargs) -> None:
    services.points_restore_for_line(job_card=job_card, line_id=line.pk, actor=actor)


def on_job_card_totals_changed(sender, *, job_card, actor, **kwargs) -> None:
    services.redemption_lines_check(job_card=job_card)
