"""Builders for Customer 360 tests: histories made through the real services."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from servicebay.shop import services
from servicebay.shop.choices import JobCardStatus
from servicebay.shop.models import JobCard, Location, Vehicle
from tests import factories
from tests.factories import SYSTEM


def done_card(
    vehicle: Vehicle,
    location: Location,
    amount: str = "100.00",
    *,
    completed_at: datetime | None = None,
    status: str = JobCardStatus.COMPLETED,
) -> JobCard:
    """A job card with one labor line of ``amount``, completed (or closed) — optionally back-dated."""
    card = factories.make_job_card(vehicle=vehicle, location=location)
    factories.add_line(card, unit_price=Decimal(amount))
    for step in ("in_progress", "completed", "closed"):
        card = services.job_card_transition(job_card=card, to_status=step, actor=SYSTEM)
        if step == status:
            break
    if completed_at is not None:
        # No service back-dates work; arranging a past history is the test's business.
        JobCard.objects.filter(pk=card.pk).update(opened_at=completed_at, completed_at=completed_at)
        card.refresh_from_db()
    return card


def rich_history(customer, vehicle, location, *, visits: int, template, now: datetime) -> None:
    """Visits with declined recommendations and ratings, points, notes, a booking and a message —
    every kind of history the console reads, ``visits`` times over."""
    from servicebay.messaging.services import message_send_now
    from servicebay.visits import services as visit_services

    for i in range(visits):
        visit = visit_services.visit_check_in(
            actor=SYSTEM, vehicle=vehicle, customer=customer, location=location,
            odometer_in=vehicle.odometer + 1000 * (i + 1),
        )
        recommendation = visit_services.recommendation_add(
            visit=visit, service_template=template, actor=SYSTEM, measured_value="3 mm"
        )
        factories.add_line(visit.job_card, unit_price=Decimal("120.00"))
        for step in ("in_progress", "completed"):
            services.job_card_transition(job_card=visit.job_card, to_status=step, actor=SYSTEM)
        visit = visit_services.visit_check_out(visit=visit, actor=SYSTEM)
        visit_services.visit_rate(visit=visit, score=4 + i % 2, actor=SYSTEM)
        visit_services.recommendation_decline(recommendation=recommendation, actor=SYSTEM)
        services.note_add(customer=customer, actor=SYSTEM, body=f"visit {i} went fine", pinned=i % 3 == 0)
        message_send_now(customer=customer, actor=SYSTEM, text=f"Thanks for visit {i}")
    factories.make_appointment(vehicle=vehicle, location=location, start_at=now + timedelta(days=3))
