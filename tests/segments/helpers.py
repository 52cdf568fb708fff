"""Builders for segment tests: customers with visits, consent and vehicles, through the services."""

from __future__ import annotations

from decimal import Decimal

from servicebay.shop import services as shop
from servicebay.shop.models import JobCard
from tests import factories
from tests.factories import SYSTEM


def complete_visit(vehicle, *, amount: Decimal | str = "100.00", location=None,
                   close: bool = False, opened_at=None) -> JobCard:
    """Open, price, start and complete a job card (a counted visit) for ``vehicle``."""
    card = factories.make_job_card(vehicle=vehicle, location=location)
    if opened_at is not None:
        JobCard.objects.filter(pk=card.pk).update(opened_at=opened_at)
        card.refresh_from_db()
    shop.job_line_add(job_card=card, actor=SYSTEM, kind="labor", description="Work",
                      unit_price=Decimal(amount))
    shop.job_card_transition(job_card=card, to_status="in_progress", actor=SYSTEM)
    shop.job_card_transition(job_card=card, to_status="completed", actor=SYSTEM)
    if close:
        shop.job_card_transition(job_card=card, to_status="closed", actor=SYSTEM)
    card.refresh_from_db()
    return card


def consent(customer, channel: str = "email", purpose: str = "marketing", granted: bool = True,
            source: str = "form", at=None):
    from servicebay.messaging.consent import consent_record

    return consent_record(customer=customer, channel=channel, purpose=purpose, granted=granted,
                          source=source, actor=SYSTEM, at=at)
