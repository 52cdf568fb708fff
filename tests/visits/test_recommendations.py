"""Recommendations: suggested → accepted | declined, declined → accepted later; accepting creates work."""

from datetime import timedelta
from decimal import Decimal

import pytest

from servicebay.activity.models import Event
from servicebay.core.errors import Conflict, DomainError, InvalidTransition
from servicebay.shop.models import Appointment
from servicebay.visits import selectors, services
from servicebay.visits.choices import RecommendationStatus
from servicebay.visits.models import CustomerVisit
from tests.factories import SYSTEM, future
from tests.visits.factories import check_in, complete, finished_visit

pytestmark = pytest.mark.django_db


def _spend(visit) -> Decimal:
    return CustomerVisit.objects.values_list("total_spend", flat=True).get(pk=visit.pk)


def test_adding_a_recommendation_records_what_was_measured(vehicle, location, template, technician):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template,
                                      actor=SYSTEM.for_user(technician), measured_value=" pads 3 mm ")
    assert rec.status == RecommendationStatus.SUGGESTED
    assert rec.measured_value == "pads 3 mm"
    assert rec.estimated_price == template.price
    assert rec.created_by == technician
    event = Event.objects.get(kind="recommendation.suggested")
    assert event.payload["measured_value"] == "pads 3 mm"
    assert event.customer_id == vehicle.customer_id


def test_no_recommendations_on_a_checked_out_visit(vehicle, location, template):
    visit = finished_visit(vehicle, location=location)
    with pytest.raises(InvalidTransition):
        services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM)


def test_the_same_service_is_suggested_once_per_visit(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM)
    with pytest.raises(Conflict):
        services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM)


def test_negative_estimate_is_refused(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    with pytest.raises(DomainError) as exc:
        services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM,
                                    estimated_price=Decimal("-1"))
    assert exc.value.field == "estimated_price"


def test_accepting_adds_a_line_to_the_open_job_card(vehicle, location, template, advisor):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM,
                                      estimated_price=Decimal("160.00"))
    rec = services.recommendation_accept(recommendation=rec, actor=SYSTEM.for_user(advisor))
    assert rec.status == RecommendationStatus.ACCEPTED
    assert (rec.decided_by, rec.decided_by_label) == (advisor, f"user:{advisor.pk}")
    assert rec.job_line.job_card_id == visit.job_card_id
    assert rec.job_line.service_template == template
    assert rec.job_line.unit_price == Decimal("160.00")
    assert _spend(visit) == Decimal("160.00")
    event = Event.objects.get(kind="recommendation.accepted")
    assert event.payload["work"] == "job_line"
    assert event.payload["recovered"] is False


def _recommended_then_checked_out(vehicle, location, template, **kw):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM, **kw)
    complete(visit.job_card)
    services.visit_check_out(visit=visit, actor=SYSTEM)
    return rec


def test_accepting_with_a_time_books_an_appointment(vehicle, location, template):
    rec = _recommended_then_checked_out(vehicle, location, template)
    start = future(72)
    rec = services.recommendation_accept(recommendation=rec, actor=SYSTEM, start_at=start)
    appointment = Appointment.objects.get()
    assert rec.appointment == appointment
    assert appointment.start_at == start
    assert list(appointment.services.all()) == [template]
    assert appointment.location == location


def test_accepting_without_an_open_card_or_time_is_refused(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM)
    complete(visit.job_card)
    with pytest.raises(DomainError) as exc:
        services.recommendation_accept(recommendation=rec, actor=SYSTEM)
    assert exc.value.field == "start_at"
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.SUGGESTED


def test_accepting_an_accepted_recommendation_is_refused_and_changes_nothing(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM)
    services.recommendation_accept(recommendation=rec, actor=SYSTEM)
    with pytest.raises(InvalidTransition):
        services.recommendation_accept(recommendation=rec, actor=SYSTEM)
    visit.job_card.refresh_from_db()
    assert visit.job_card.lines.count() == 1
    assert Event.objects.filter(kind="recommendation.accepted").count() == 1


def test_declining_keeps_the_measurement_and_records_the_event(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM,
                                      measured_value="pads 4 mm")
    rec = services.recommendation_decline(recommendation=rec, actor=SYSTEM, reason="Next month",
                                          measured_value="pads 3 mm")
    assert rec.status == RecommendationStatus.DECLINED
    assert rec.declined_at is not None and rec.decided_at == rec.declined_at
    assert (rec.measured_value, rec.decline_reason) == ("pads 3 mm", "Next month")
    event = Event.objects.get(kind="recommendation.declined")
    assert event.payload["measured_value"] == "pads 3 mm"


def test_an_accepted_recommendation_cannot_be_declined(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM)
    services.recommendation_accept(recommendation=rec, actor=SYSTEM)
    with pytest.raises(InvalidTransition):
        services.recommendation_decline(recommendation=rec, actor=SYSTEM)


def test_a_declined_item_accepted_later_counts_as_recovered(vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM,
                                      measured_value="pads 3 mm")
    services.recommendation_decline(recommendation=rec, actor=SYSTEM)
    rec = services.recommendation_accept(recommendation=rec, actor=SYSTEM, start_at=future(24))
    assert rec.status == RecommendationStatus.ACCEPTED
    assert rec.declined_at is not None and rec.measured_value == "pads 3 mm"
    assert rec.is_recovered
    assert Event.objects.get(kind="recommendation.accepted").payload["recovered"] is True
    assert selectors.recovered_declined_stats(customer_id=vehicle.customer_id) == (1, template.price)


def test_recommending_again_links_back_to_the_earlier_decline(vehicle, location, template):
    declined = _recommended_then_checked_out(vehicle, location, template)
    services.recommendation_decline(recommendation=declined, actor=SYSTEM)
    second = check_in(vehicle, location=location)
    again = services.recommendation_add(visit=second, service_template=template, actor=SYSTEM)
    assert again.recovered_from == declined
    services.recommendation_accept(recommendation=again, actor=SYSTEM)
    assert selectors.recovered_declined_stats(customer_id=vehicle.customer_id)[0] == 1
    # the superseded decline is no longer open, and cannot be accepted a second time
    assert list(selectors.recommendation_open_list(customer_id=vehicle.customer_id)) == []
    with pytest.raises(Conflict):
        services.recommendation_accept(recommendation=declined, actor=SYSTEM, start_at=future())


def test_the_work_goes_to_the_vehicles_later_open_card(vehicle, location, template):
    declined = _recommended_then_checked_out(vehicle, location, template,
                                             estimated_price=Decimal("90"))
    services.recommendation_decline(recommendation=declined, actor=SYSTEM)
    second = check_in(vehicle, location=location)
    rec = services.recommendation_accept(recommendation=declined, actor=SYSTEM)
    assert rec.job_line.job_card_id == second.job_card_id
    assert _spend(second) == Decimal("90.00")


def test_appointment_in_the_past_is_refused(vehicle, location, template):
    from django.utils import timezone

    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM)
    with pytest.raises(DomainError) as exc:
        services.recommendation_accept(recommendation=rec, actor=SYSTEM,
                                       start_at=timezone.now() - timedelta(days=1))
    assert exc.value.field == "start_at"
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.SUGGESTED


def test_booking_more_than_a_year_ahead_is_refused(vehicle, location, template):
    from django.utils import timezone

    visit = check_in(vehicle, location=location)
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM)
    with pytest.raises(DomainError) as exc:
        services.recommendation_accept(recommendation=rec, actor=SYSTEM,
                                       start_at=timezone.now() + timedelta(days=400))
    assert exc.value.field == "start_at"
