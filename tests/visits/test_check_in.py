"""Check-in: from an appointment (scheduled) or as a walk-in; creates or attaches the job card."""

from datetime import timedelta

import pytest
from django.utils import timezone

from servicebay.activity.models import Event
from servicebay.core.errors import Conflict, DomainError
from servicebay.shop import services as shop_services
from servicebay.shop.choices import AppointmentStatus, JobCardStatus
from servicebay.shop.models import JobCard
from servicebay.visits import services
from servicebay.visits.choices import VisitType
from servicebay.visits.models import CustomerVisit
from tests import factories
from tests.factories import SYSTEM, future
from tests.visits.factories import check_in, finished_visit

pytestmark = pytest.mark.django_db


def _appointment(vehicle, location, *services_):
    return shop_services.appointment_book(
        actor=SYSTEM, customer=vehicle.customer, vehicle=vehicle, location=location,
        start_at=future(2), services=services_,
    )


def test_walk_in_opens_a_job_card_and_records_the_event(vehicle, location, advisor):
    actor = SYSTEM.for_user(advisor)
    visit = check_in(vehicle, location=location, odometer_in=43_100, actor=actor)
    assert visit.visit_type == VisitType.WALK_IN
    assert visit.appointment is None
    assert visit.job_card.status == JobCardStatus.OPEN
    assert visit.job_card.vehicle_id == vehicle.pk
    assert visit.job_card.odometer_in == 43_100
    assert visit.advisor == advisor
    event = Event.objects.get(kind="visit.checked_in")
    assert (event.customer_id, event.subject_id, event.actor_user_id) == (vehicle.customer_id, visit.pk, advisor.pk)
    assert event.payload["visit_type"] == "walk_in"


def test_check_in_from_an_appointment_is_scheduled_and_checks_the_appointment_in(vehicle, location, oil_change):
    appointment = _appointment(vehicle, location, oil_change)
    visit = services.visit_check_in(actor=SYSTEM, appointment=appointment, odometer_in=45_000)
    appointment.refresh_from_db()
    assert visit.visit_type == VisitType.SCHEDULED
    assert visit.appointment == appointment
    assert visit.location == location
    assert appointment.status == AppointmentStatus.CHECKED_IN
    assert [line.service_template for line in visit.job_card.lines.all()] == [oil_change]
    assert visit.total_spend == visit.job_card.total == oil_change.price


def test_check_in_attaches_the_open_card_of_the_appointment(vehicle, location):
    appointment = _appointment(vehicle, location)
    card = shop_services.job_card_open(actor=SYSTEM, location=location, customer=vehicle.customer,
                                       vehicle=vehicle, appointment=appointment, odometer_in=44_000)
    visit = services.visit_check_in(actor=SYSTEM, appointment=appointment)
    assert visit.job_card == card
    assert visit.odometer_in == 44_000
    assert JobCard.objects.count() == 1


def test_walk_in_attaches_an_open_card_of_the_vehicle_without_a_visit(vehicle, location):
    card = factories.make_job_card(vehicle=vehicle, location=location)
    visit = check_in(vehicle, location=location)
    assert visit.job_card == card
    assert JobCard.objects.count() == 1


def test_walk_in_with_an_explicit_card_of_another_vehicle_is_refused(vehicle, location):
    other = factories.make_job_card(vehicle=factories.make_vehicle(vehicle.customer), location=location)
    with pytest.raises(DomainError) as exc:
        check_in(vehicle, location=location, job_card=other)
    assert exc.value.field == "job_card_id"


def test_a_completed_card_cannot_start_a_visit(vehicle, location):
    card = factories.make_job_card(vehicle=vehicle, location=location)
    from tests.visits.factories import complete

    complete(card)
    with pytest.raises(DomainError) as exc:
        check_in(vehicle, location=location, job_card=card)
    assert exc.value.field == "job_card_id"
    assert not CustomerVisit.objects.exists()


def test_a_vehicle_still_checked_in_cannot_check_in_again(vehicle, location):
    check_in(vehicle, location=location)
    with pytest.raises(Conflict) as exc:
        check_in(vehicle, location=location)
    assert exc.value.field == "vehicle_id"
    assert CustomerVisit.objects.count() == 1


def test_an_appointment_checks_in_once(vehicle, location):
    appointment = _appointment(vehicle, location)
    visit = services.visit_check_in(actor=SYSTEM, appointment=appointment)
    from tests.visits.factories import complete

    complete(visit.job_card)
    services.visit_check_out(visit=visit, actor=SYSTEM)
    with pytest.raises(Conflict):
        services.visit_check_in(actor=SYSTEM, appointment=appointment)


def test_appointment_of_another_customer_is_refused(vehicle, location):
    appointment = _appointment(vehicle, location)
    stranger = factories.make_vehicle()
    with pytest.raises(DomainError) as exc:
        services.visit_check_in(actor=SYSTEM, appointment=appointment, customer=stranger.customer)
    assert exc.value.field == "appointment_id"
    assert Event.objects.filter(kind="visit.checked_in").count() == 0


def test_vehicle_of_another_customer_is_refused(vehicle, location):
    stranger = factories.make_customer()
    with pytest.raises(DomainError) as exc:
        services.visit_check_in(actor=SYSTEM, customer=stranger, vehicle=vehicle, location=location)
    assert exc.value.field == "vehicle_id"


def test_odometer_lower_than_the_last_reading_is_refused(vehicle, location):
    finished_visit(vehicle, location=location, odometer_in=50_000)
    with pytest.raises(DomainError) as exc:
        check_in(vehicle, location=location, odometer_in=49_000)
    assert exc.value.field == "odometer_in"
    assert CustomerVisit.objects.count() == 1


def test_check_in_in_the_future_is_refused(vehicle, location):
    with pytest.raises(DomainError) as exc:
        check_in(vehicle, location=location, check_in_at=timezone.now() + timedelta(hours=1))
    assert exc.value.field == "check_in_at"


def test_walk_in_needs_a_location(vehicle):
    with pytest.raises(DomainError) as exc:
        services.visit_check_in(actor=SYSTEM, vehicle=vehicle)
    assert exc.value.field == "location_id"
