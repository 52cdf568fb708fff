"""Check-out: only once, only after the job card is completed; the spend is the card's total."""

from datetime import timedelta
from decimal import Decimal

import pytest

from servicebay.activity.models import Event
from servicebay.core.errors import Conflict, DomainError, InvalidTransition
from servicebay.shop import services as shop_services
from servicebay.shop.choices import JobCardStatus
from servicebay.visits import services
from tests.factories import SYSTEM
from tests.visits.factories import add_labor, check_in, complete

pytestmark = pytest.mark.django_db


def test_check_out_after_completion_records_spend_and_event(vehicle, location):
    visit = check_in(vehicle, location=location)
    add_labor(visit.job_card, "120.00", tax_rate=Decimal("0.10"))
    complete(visit.job_card)
    visit = services.visit_check_out(visit=visit, actor=SYSTEM)
    assert visit.check_out_at >= visit.check_in_at
    assert visit.total_spend == Decimal("132.00")
    event = Event.objects.get(kind="visit.checked_out")
    assert event.subject_id == visit.pk
    assert event.payload["total_spend"] == "132.00"
    assert event.payload["currency"] == "USD"


def test_check_out_before_the_job_card_is_completed_is_refused(vehicle, location):
    visit = check_in(vehicle, location=location)
    add_labor(visit.job_card)
    with pytest.raises(InvalidTransition) as exc:
        services.visit_check_out(visit=visit, actor=SYSTEM)
    assert "complete it" in exc.value.message
    visit.refresh_from_db()
    assert visit.check_out_at is None
    assert not Event.objects.filter(kind="visit.checked_out").exists()


def test_checking_out_twice_is_refused_and_changes_nothing(vehicle, location):
    visit = check_in(vehicle, location=location)
    complete(visit.job_card)
    first = services.visit_check_out(visit=visit, actor=SYSTEM)
    with pytest.raises(Conflict):
        services.visit_check_out(visit=visit, actor=SYSTEM)
    visit.refresh_from_db()
    assert visit.check_out_at == first.check_out_at
    assert Event.objects.filter(kind="visit.checked_out").count() == 1


def test_check_out_before_check_in_time_is_refused(vehicle, location):
    visit = check_in(vehicle, location=location)
    complete(visit.job_card)
    with pytest.raises(DomainError) as exc:
        services.visit_check_out(visit=visit, actor=SYSTEM,
                                 check_out_at=visit.check_in_at - timedelta(minutes=1))
    assert exc.value.field == "check_out_at"


def test_a_closed_card_can_be_checked_out(vehicle, location):
    visit = check_in(vehicle, location=location)
    card = complete(visit.job_card)
    shop_services.job_card_transition(job_card=card, to_status=JobCardStatus.CLOSED, actor=SYSTEM)
    assert services.visit_check_out(visit=visit, actor=SYSTEM).check_out_at is not None


def test_a_cancelled_card_checks_out_with_no_spend(vehicle, location):
    visit = check_in(vehicle, location=location)
    add_labor(visit.job_card, "80.00")
    shop_services.job_card_transition(job_card=visit.job_card, to_status=JobCardStatus.CANCELLED, actor=SYSTEM)
    visit = services.visit_check_out(visit=visit, actor=SYSTEM)
    assert visit.total_spend == Decimal("0.00")
