"""Builders for visits tests: real services all the way, with overrides."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from servicebay.shop import services as shop_services
from servicebay.shop.choices import JobCardStatus, JobLineKind
from servicebay.shop.models import JobCard, Location, Vehicle
from servicebay.visits import services
from servicebay.visits.models import CustomerVisit
from tests import factories
from tests.factories import SYSTEM


def check_in(
    vehicle: Vehicle, *, location: Location | None = None, odometer_in: int | None = None,
    check_in_at: datetime | None = None, **kw,
) -> CustomerVisit:
    return services.visit_check_in(
        actor=kw.pop("actor", SYSTEM), vehicle=vehicle, customer=vehicle.customer,
        location=location or factories.make_location(), odometer_in=odometer_in,
        check_in_at=check_in_at, **kw,
    )


def add_labor(card: JobCard, price: str = "100.00", **kw):
    return shop_services.job_line_add(
        job_card=card, actor=SYSTEM, kind=JobLineKind.LABOR, description=kw.pop("description", "Labor"),
        unit_price=Decimal(price), **kw,
    )


def complete(card: JobCard) -> JobCard:
    card.refresh_from_db()
    if not card.lines.exists():
        add_labor(card)
    if card.status == JobCardStatus.OPEN:
        shop_services.job_card_transition(job_card=card, to_status=JobCardStatus.IN_PROGRESS, actor=SYSTEM)
    return shop_services.job_card_transition(job_card=card, to_status=JobCardStatus.COMPLETED, actor=SYSTEM)


def finished_visit(vehicle: Vehicle, *, check_out_at: datetime | None = None, **kw) -> CustomerVisit:
    """A visit checked in, its card completed, and checked out."""
    visit = check_in(vehicle, **kw)
    complete(visit.job_card)
    return services.visit_check_out(visit=visit, actor=SYSTEM, check_out_at=check_out_at)
