"""Reactions to the shop's job-card signals; they run inside the shop's transaction."""

from __future__ import annotations

from servicebay.shop.models import JobCard

from .services import visit_spend_sync


def job_card_changed(sender, *, job_card: JobCard, **kwargs) -> None:
    """A card's lines or status changed: the visit's total_spend follows (idempotent)."""
    visit_spend_sync(job_card=job_card)
