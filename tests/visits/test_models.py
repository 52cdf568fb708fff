"""The database refuses visits and recommendations that break DESIGN §2, whoever writes them."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from servicebay.shop.services import appointment_book
from servicebay.visits.choices import VisitType
from servicebay.visits.models import CustomerVisit, VisitRecommendation
from tests.factories import SYSTEM, future
from tests.visits.factories import check_in, finished_visit


@pytest.mark.django_db
def test_walk_in_with_an_appointment_is_refused(vehicle, location):
    visit = check_in(vehicle, location=location)
    appointment = appointment_book(actor=SYSTEM, customer=vehicle.customer, vehicle=vehicle,
                                   location=location, start_at=future())
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerVisit.objects.filter(pk=visit.pk).update(appointment=appointment)


@pytest.mark.django_db
def test_scheduled_visit_without_appointment_is_refused(vehicle, location):
    visit = check_in(vehicle, location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerVisit.objects.filter(pk=visit.pk).update(visit_type=VisitType.SCHEDULED)


@pytest.mark.django_db
def test_check_out_before_check_in_is_refused(vehicle, location):
    visit = finished_visit(vehicle, location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerVisit.objects.filter(pk=visit.pk).update(
            check_out_at=visit.check_in_at - timedelta(seconds=1)
        )


@pytest.mark.django_db
@pytest.mark.parametrize("score", [0, 6, 100])
def test_satisfaction_outside_one_to_five_is_refused(vehicle, location, score):
    visit = finished_visit(vehicle, location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerVisit.objects.filter(pk=visit.pk).update(satisfaction_score=score)


@pytest.mark.django_db
def test_satisfaction_before_check_out_is_refused(vehicle, location):
    visit = check_in(vehicle, location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerVisit.objects.filter(pk=visit.pk).update(satisfaction_score=4)


@pytest.mark.django_db
def test_one_visit_per_job_card(vehicle, location):
    visit = check_in(vehicle, location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerVisit.objects.create(
            customer=visit.customer, vehicle=vehicle, job_card=visit.job_card, location=location,
            visit_type=VisitType.WALK_IN,
        )


@pytest.mark.django_db
def test_declined_recommendation_needs_its_decline_time(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        VisitRecommendation.objects.create(
            visit=visit, service_template=template, estimated_price=1, status="declined",
            decided_at=visit.check_in_at,
        )


@pytest.mark.django_db
def test_a_vehicle_has_one_open_visit_at_a_time(vehicle, location):
    from tests import factories

    visit = check_in(vehicle, location=location)
    other_card = factories.make_job_card(vehicle=vehicle, location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerVisit.objects.create(
            customer=visit.customer, vehicle=vehicle, job_card=other_card, location=location,
            visit_type=VisitType.WALK_IN,
        )
