from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from servicebay.customer360 import next_best
from servicebay.customer360.selectors import customer_360
from servicebay.shop import services
from servicebay.shop.models import JobCard
from servicebay.visits import services as visit_services
from tests import factories
from tests.factories import SYSTEM
from tests.loyalty.conftest import make_program

from .helpers import done_card


def actions(customer) -> dict:
    return {nba.key: nba for nba in customer_360(customer_id=customer.pk).next_best_actions}


def test_an_old_last_visit_with_nothing_booked_suggests_booking(customer, vehicle, location):
    done_card(vehicle, location, completed_at=timezone.now() - timedelta(days=200))
    suggestion = actions(customer)["rebook"]
    assert suggestion.detail == "Last visit 6 months ago."
    assert suggestion.action.kind == "book_appointment"


def test_a_booked_visit_needs_no_booking_suggestion(customer, vehicle, location):
    done_card(vehicle, location, completed_at=timezone.now() - timedelta(days=200))
    factories.make_appointment(vehicle=vehicle, location=location)
    assert "rebook" not in actions(customer)


def test_the_preferred_channel_comes_with_a_send_action(customer):
    suggestion = actions(customer)["preferred_channel"]
    assert suggestion.title == "Prefers Email"
    assert (suggestion.action.kind, suggestion.action.params) == ("send_message", {"channel": "email"})


def test_a_customer_contacted_yesterday_is_on_hold(customer):
    view = customer_360(customer_id=customer.pk)
    view.last_contacted_at = view.now - timedelta(days=1)
    found = {nba.key: nba for nba in next_best.actions_for(view)}
    assert "preferred_channel" not in found
    hold = found["contact_hold"]
    assert hold.tone == "warning" and hold.detail.startswith("Last contacted yesterday")


def _visit_with_declined(vehicle, location, template, price="180.00", measured="3 mm"):
    visit = visit_services.visit_check_in(actor=SYSTEM, vehicle=vehicle, customer=vehicle.customer,
                                          location=location, odometer_in=vehicle.odometer + 500)
    rec = visit_services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM,
                                            measured_value=measured, estimated_price=Decimal(price))
    visit_services.recommendation_decline(recommendation=rec, actor=SYSTEM)
    return visit


def test_declined_work_shows_its_value_and_books_it_in_one_click(customer, vehicle, location, brakes):
    _visit_with_declined(vehicle, location, brakes)
    suggestion = actions(customer)["declined_work"]
    assert suggestion.title == "Declined work: $180.00 open"
    assert suggestion.detail == "Brake pads (3 mm)."
    assert suggestion.action.params == {"service": [brakes.pk], "vehicle": vehicle.pk}
    assert suggestion.action.query == f"service={brakes.pk}&vehicle={vehicle.pk}"


def test_declined_work_once_booked_is_not_offered_again(customer, vehicle, location, brakes):
    _visit_with_declined(vehicle, location, brakes)
    factories.make_appointment(vehicle=vehicle, location=location, start_at=factories.future(24))
    factories.make_appointment(vehicle=vehicle, location=location, start_at=factories.future(200),
                               services=[brakes])
    assert "declined_work" not in actions(customer)


def test_an_overdue_service_is_offered_for_booking(customer, vehicle, location, oil_change):
    card = factories.make_job_card(vehicle=vehicle, location=location, odometer_in=40000)
    factories.add_line(card, service_template=oil_change, unit_price=Decimal("49.95"))
    for step in ("in_progress", "completed"):
        services.job_card_transition(job_card=card, to_status=step, actor=SYSTEM)
    eight_months_ago = timezone.now() - timedelta(days=240)
    JobCard.objects.filter(pk=card.pk).update(opened_at=eight_months_ago, completed_at=eight_months_ago)
    found = actions(customer)
    suggestion = found["service_due"]
    assert suggestion.title.startswith("Oil change overdue since")
    assert suggestion.tone == "danger"
    assert suggestion.action.params == {"service": [oil_change.pk], "vehicle": vehicle.pk}
    assert "rebook" not in found  # the due service says it better


def test_a_due_service_already_booked_is_not_offered_again(customer, vehicle, location, oil_change):
    card = factories.make_job_card(vehicle=vehicle, location=location)
    factories.add_line(card, service_template=oil_change, unit_price=Decimal("49.95"))
    for step in ("in_progress", "completed"):
        services.job_card_transition(job_card=card, to_status=step, actor=SYSTEM)
    long_ago = timezone.now() - timedelta(days=300)
    JobCard.objects.filter(pk=card.pk).update(opened_at=long_ago, completed_at=long_ago)
    factories.make_appointment(vehicle=vehicle, location=location, services=[oil_change])
    assert "service_due" not in actions(customer)


def test_points_show_their_worth_and_the_spend_to_the_next_tier(customer, vehicle, location):
    make_program()  # 1 point per dollar, a point is worth a cent, Silver at 500 points
    done_card(vehicle, location, "120.00")
    found = actions(customer)
    assert found["points"].title == "120 points worth $1.20"
    assert found["next_tier"].title == "$380.00 more to Silver"
    assert found["next_tier"].detail == "380 points to go; 24% of the way."
