"""Reads of the shop core: customer search by any identifier, lists, and flat query counts."""

from datetime import timedelta

import pytest

from servicebay.shop import selectors, services
from servicebay.shop.choices import AppointmentStatus, JobCardStatus, JobLineKind
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(location):
    ana = factories.make_customer(first_name="Ana", last_name="Diaz", phone="+13125550142",
                                  email="ana.diaz@example.com", home_location=location)
    factories.make_vehicle(ana, plate="KDX 4410", vin="1HGCM82633A004352")
    factories.make_vehicle(ana, plate="KDX 9000")
    bob = factories.make_customer(first_name="Diane", last_name="Anderson", phone="+442079460958",
                                  email="d.anderson@example.org")
    factories.make_vehicle(bob, plate="LX19 ABC", vin="WVWZZZ1JZXW000123")
    return {"ana": ana, "diane": bob}


def _found(query: str) -> list[str]:
    return sorted(c.first_name for c in selectors.customer_search(query=query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("an", ["Ana", "Diane"]),  # Ana by first name, Diane Anderson by last name
        ("  ANA   diaz ", ["Ana"]),
        ("diaz ana", ["Ana"]),
        ("di", ["Ana", "Diane"]),
        ("(312) 555-0142", ["Ana"]),
        ("312.555.0142", ["Ana"]),
        ("+1 312-555-0142", ["Ana"]),
        ("555-0142", ["Ana"]),
        ("020 7946 0958", ["Diane"]),
        ("+44 20 7946 0958", ["Diane"]),
        ("ANA.DIAZ@EXAMPLE.COM", ["Ana"]),
        ("d.anderson@", ["Diane"]),
        ("kdx", ["Ana"]),
        ("KDX-4410", ["Ana"]),
        ("lx19 abc", ["Diane"]),
        ("1hgcm82633a004352", ["Ana"]),
        ("WVWZZZ-1JZXW000123", ["Diane"]),
        ("nobody", []),
    ],
)
def test_customer_search_by_name_phone_email_plate_or_vin(people, query, expected):
    assert _found(query) == expected


def test_customer_with_two_matching_vehicles_is_listed_once(people):
    assert [c.pk for c in selectors.customer_search(query="KDX")] == [people["ana"].pk]


def test_empty_search_lists_everyone(people):
    assert selectors.customer_search(query="   ").count() == 2


def test_customer_get_loads_vehicles_in_two_queries(people, django_assert_num_queries):
    with django_assert_num_queries(2):
        customer = selectors.customer_get(customer_id=people["ana"].pk)
        plates = sorted(v.plate for v in customer.vehicles.all())
        assert customer.home_location.name
    assert plates == ["KDX4410", "KDX9000"]


def test_vehicle_list_by_plate_prefix_or_vin(people):
    assert [v.plate for v in selectors.vehicle_list(query="kdx 44")] == ["KDX4410"]
    assert [v.plate for v in selectors.vehicle_list(query="WVWZZZ1JZXW000123")] == ["LX19ABC"]
    assert selectors.vehicle_list(customer_id=people["diane"].pk).count() == 1


def test_job_card_get_loads_lines_parts_and_templates_in_two_queries(django_assert_num_queries):
    card = factories.make_job_card()
    for _ in range(3):
        factories.add_line(card, kind=JobLineKind.PART, part=factories.make_part())
        factories.add_line(card, service_template=factories.make_template())
    with django_assert_num_queries(2):
        loaded = selectors.job_card_get(job_card_id=card.pk)
        labels = [(line.part.sku if line.part else line.service_template.code) for line in
                  loaded.lines.all()]
        related = (loaded.customer.pk, loaded.vehicle.pk, loaded.location.pk)
    assert len(labels) == 6
    assert related == (card.customer_id, card.vehicle_id, card.location_id)


def test_job_card_list_filters(location):
    vehicle = factories.make_vehicle()
    open_card = factories.make_job_card(vehicle=vehicle, location=location)
    done = factories.make_job_card_in(JobCardStatus.COMPLETED, vehicle=vehicle, location=location)
    factories.make_job_card()
    assert {c.pk for c in selectors.job_card_list(location_id=location.pk)} == {open_card.pk, done.pk}
    assert [c.pk for c in selectors.job_card_list(status="completed")] == [done.pk]
    assert selectors.job_card_list(customer_id=vehicle.customer_id).count() == 2


def test_appointment_list_window_and_status(vehicle, location):
    early = factories.make_appointment(vehicle=vehicle, location=location, start_at=factories.future(2))
    late = factories.make_appointment(vehicle=vehicle, location=location, start_at=factories.future(50))
    services.appointment_set_status(appointment=late, status=AppointmentStatus.CONFIRMED,
                                    actor=factories.SYSTEM)
    window = selectors.appointment_list(start_from=factories.future(1), start_to=factories.future(3))
    assert [a.pk for a in window] == [early.pk]
    assert [a.pk for a in selectors.appointment_list(status="confirmed")] == [late.pk]


def test_appointment_conflicts_are_overlapping_active_bookings_of_the_vehicle(vehicle, location):
    start = factories.future(24)
    booked = factories.make_appointment(vehicle=vehicle, location=location, start_at=start,
                                        duration_minutes=90)
    cancelled = factories.make_appointment(vehicle=vehicle, location=location, start_at=start)
    services.appointment_set_status(appointment=cancelled, status=AppointmentStatus.CANCELLED,
                                    actor=factories.SYSTEM)

    def conflicts(offset_minutes: int, minutes: int = 30, exclude=None):
        begin = start + timedelta(minutes=offset_minutes)
        return [a.pk for a in selectors.appointment_conflicts(
            vehicle_id=vehicle.pk, start_at=begin, end_at=begin + timedelta(minutes=minutes),
            exclude_id=exclude)]

    assert conflicts(60) == [booked.pk]
    assert conflicts(-30) == []  # ends exactly when the booking starts
    assert conflicts(90) == []  # starts exactly when it ends
    assert conflicts(-60, minutes=240) == [booked.pk]
    assert conflicts(60, exclude=booked.pk) == []


def test_notes_list_pinned_first_then_newest(customer):
    old = services.note_add(customer=customer, actor=factories.SYSTEM, body="old")
    new = services.note_add(customer=customer, actor=factories.SYSTEM, body="new")
    pinned = services.note_add(customer=customer, actor=factories.SYSTEM, body="pinned", pinned=True)
    assert [n.pk for n in selectors.note_list(customer_id=customer.pk)] == [pinned.pk, new.pk, old.pk]
