"""Rules the shop services enforce: contacts, vehicles, appointments, job cards, totals, events."""

import threading
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicebay.activity.models import Event
from servicebay.core.actors import Actor
from servicebay.core.errors import Conflict, DomainError, InvalidTransition
from servicebay.shop import services
from servicebay.shop.choices import AppointmentStatus, JobCardStatus, JobLineKind
from servicebay.shop.models import Appointment, JobCard, JobLine, Vehicle
from tests import factories

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and transaction ids are PostgreSQL's"
)


def _actor(user=None) -> Actor:
    return Actor.for_user(user) if user is not None else factories.SYSTEM


# --- customers and vehicles ----------------------------------------------------------------------


def test_customer_phone_is_stored_in_e164():
    customer = factories.make_customer(phone="(312) 555-0199")
    assert customer.phone == "+13125550199"


def test_customer_with_invalid_phone_is_refused_on_the_phone_field():
    with pytest.raises(ValidationError) as exc:
        factories.make_customer(phone="555-12")
    assert list(exc.value.message_dict) == ["phone"]


def test_customer_email_is_lower_cased_and_names_trimmed():
    customer = factories.make_customer(first_name="  Ana ", email="Ana.Diaz@Example.COM")
    assert (customer.first_name, customer.email) == ("Ana", "ana.diaz@example.com")


def test_customer_birthday_in_the_future_is_refused():
    with pytest.raises(ValidationError) as exc:
        factories.make_customer(birthday=timezone.localdate() + timedelta(days=1))
    assert "birthday" in exc.value.message_dict


def test_customer_update_records_the_changed_fields_not_their_values(customer):
    services.customer_update(customer=customer, actor=factories.SYSTEM, phone="312 555 0177",
                             last_name=customer.last_name)
    event = Event.objects.filter(kind="customer.updated").get()
    assert event.payload == {"fields": ["phone"]}
    assert customer.phone == "+13125550177"


def test_customer_update_without_changes_records_nothing(customer):
    services.customer_update(customer=customer, actor=factories.SYSTEM, first_name=customer.first_name)
    assert not Event.objects.filter(kind="customer.updated").exists()


def test_vin_is_normalised_and_check_digit_verified(customer):
    vin = factories.north_american_vin()
    vehicle = factories.make_vehicle(customer, vin=f"{vin[:5].lower()}-{vin[5:]}")
    assert vehicle.vin == vin
    wrong = vin[:8] + ("7" if vin[8] != "7" else "8") + vin[9:]
    with pytest.raises(ValidationError) as exc:
        factories.make_vehicle(customer, vin=wrong)
    assert list(exc.value.message_dict) == ["vin"]


def test_european_vin_is_accepted(customer):
    assert factories.make_vehicle(customer, vin="WVWZZZ1JZXW000001").vin == "WVWZZZ1JZXW000001"


def test_duplicate_vin_is_refused_on_the_vin_field(customer):
    vin = factories.north_american_vin()
    factories.make_vehicle(customer, vin=vin)
    other = factories.make_customer()
    with pytest.raises(ValidationError) as exc:
        factories.make_vehicle(other, vin=vin)
    assert exc.value.message_dict == {"vin": ["Another vehicle already has this VIN."]}


def test_changing_a_vin_to_one_in_use_is_refused_on_the_vin_field(customer):
    vin = factories.north_american_vin()
    factories.make_vehicle(customer, vin=vin)
    second = factories.make_vehicle(customer)
    with pytest.raises(ValidationError) as exc:
        services.vehicle_update(vehicle=second, actor=factories.SYSTEM, vin=vin)
    assert list(exc.value.message_dict) == ["vin"]


def test_vehicle_update_records_the_changed_fields(customer):
    vehicle = factories.make_vehicle(customer, odometer=1000)
    services.vehicle_update(vehicle=vehicle, actor=factories.SYSTEM, odometer=2500, make="Toyota")
    event = Event.objects.get(kind="vehicle.updated")
    assert (event.customer_id, event.subject_id, event.payload) == (
        customer.pk, vehicle.pk, {"fields": ["odometer"]})


def test_plate_is_stored_compact_and_upper_case(customer):
    assert factories.make_vehicle(customer, plate=" abc-12 3").plate == "ABC123"


def test_unknown_vehicle_field_is_refused(customer):
    with pytest.raises(DomainError) as exc:
        factories.make_vehicle(customer, colour="red")
    assert exc.value.field == "colour"


# --- appointments --------------------------------------------------------------------------------


def test_appointment_in_the_past_is_refused(vehicle, location):
    with pytest.raises(DomainError) as exc:
        factories.make_appointment(vehicle=vehicle, location=location,
                                   start_at=timezone.now() - timedelta(hours=1))
    assert exc.value.field == "start_at"
    assert not Appointment.objects.exists()


def test_appointment_with_naive_start_is_refused(vehicle, location):
    with pytest.raises(DomainError) as exc:
        factories.make_appointment(vehicle=vehicle, location=location,
                                   start_at=timezone.now().replace(tzinfo=None) + timedelta(days=1))
    assert exc.value.field == "start_at"


def test_appointment_for_another_customers_vehicle_is_refused(vehicle, location):
    stranger = factories.make_customer()
    with pytest.raises(DomainError) as exc:
        services.appointment_book(actor=factories.SYSTEM, customer=stranger, vehicle=vehicle,
                                  location=location, start_at=factories.future())
    assert exc.value.field == "vehicle_id"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ((), AppointmentStatus.CONFIRMED),
        ((), AppointmentStatus.CHECKED_IN),
        ((), AppointmentStatus.NO_SHOW),
        ((), AppointmentStatus.CANCELLED),
        ((AppointmentStatus.CONFIRMED,), AppointmentStatus.CHECKED_IN),
        ((AppointmentStatus.CONFIRMED,), AppointmentStatus.NO_SHOW),
        ((AppointmentStatus.CONFIRMED,), AppointmentStatus.CANCELLED),
    ],
)
def test_appointment_allowed_transitions(path, target, vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    for step in path:
        services.appointment_set_status(appointment=appointment, status=step, actor=factories.SYSTEM)
    services.appointment_set_status(appointment=appointment, status=target, actor=factories.SYSTEM)
    appointment.refresh_from_db()
    assert appointment.status == target
    assert Event.objects.filter(kind=f"appointment.{target}", subject_id=appointment.pk).exists()


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ((), AppointmentStatus.BOOKED),
        ((AppointmentStatus.CONFIRMED,), AppointmentStatus.BOOKED),
        ((AppointmentStatus.CANCELLED,), AppointmentStatus.CONFIRMED),
        ((AppointmentStatus.NO_SHOW,), AppointmentStatus.CHECKED_IN),
        ((AppointmentStatus.CHECKED_IN,), AppointmentStatus.CANCELLED),
    ],
)
def test_appointment_forbidden_transitions_raise(path, target, vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    for step in path:
        services.appointment_set_status(appointment=appointment, status=step, actor=factories.SYSTEM)
    before = Appointment.objects.get(pk=appointment.pk).status
    with pytest.raises(InvalidTransition):
        services.appointment_set_status(appointment=appointment, status=target, actor=factories.SYSTEM)
    assert Appointment.objects.get(pk=appointment.pk).status == before


def test_reschedule_to_a_naive_time_is_refused(vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    with pytest.raises(DomainError) as exc:
        services.appointment_reschedule(appointment=appointment, actor=factories.SYSTEM,
                                        start_at=factories.future(72).replace(tzinfo=None))
    assert exc.value.field == "start_at"


# --- job cards: opening and numbering ------------------------------------------------------------


def test_job_card_numbers_count_per_location(customer):
    first, second = factories.make_location(), factories.make_location()
    vehicle = factories.make_vehicle(customer)
    numbers = [factories.make_job_card(vehicle=vehicle, location=loc).number
               for loc in (first, first, second, first, second)]
    assert numbers == [1, 2, 1, 3, 2]


def test_opening_from_an_appointment_checks_it_in_and_copies_its_services(vehicle, location):
    oil, rotate = factories.make_template(price=Decimal("49.95")), factories.make_template(
        price=Decimal("20.00"))
    appointment = factories.make_appointment(vehicle=vehicle, location=location, services=[oil, rotate])
    card = factories.make_job_card(vehicle=vehicle, location=location, appointment=appointment,
                                   odometer_in=50_000)
    appointment.refresh_from_db()
    vehicle.refresh_from_db()
    assert appointment.status == AppointmentStatus.CHECKED_IN
    assert card.lines.count() == 2
    assert card.subtotal == Decimal("69.95")
    assert vehicle.odometer == 50_000


def test_an_appointment_gets_at_most_one_job_card(vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    factories.make_job_card(vehicle=vehicle, location=location, appointment=appointment)
    with pytest.raises(Conflict):
        factories.make_job_card(vehicle=vehicle, location=location, appointment=appointment)


def test_an_appointment_checked_in_at_the_desk_can_still_get_its_job_card(vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    services.appointment_set_status(appointment=appointment, status=AppointmentStatus.CHECKED_IN,
                                    actor=factories.SYSTEM)
    card = factories.make_job_card(vehicle=vehicle, location=location, appointment=appointment)
    assert card.appointment_id == appointment.pk


def test_a_cancelled_appointment_cannot_be_checked_in(vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    services.appointment_set_status(appointment=appointment, status=AppointmentStatus.CANCELLED,
                                    actor=factories.SYSTEM)
    with pytest.raises(InvalidTransition):
        factories.make_job_card(vehicle=vehicle, location=location, appointment=appointment)
    assert not JobCard.objects.exists()


def test_job_card_for_another_customers_vehicle_is_refused(vehicle, location):
    with pytest.raises(DomainError) as exc:
        services.job_card_open(actor=factories.SYSTEM, location=location,
                               customer=factories.make_customer(), vehicle=vehicle)
    assert exc.value.field == "vehicle_id"


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_job_card_opening_gets_unique_consecutive_numbers():
    location = factories.make_location()
    vehicle = factories.make_vehicle()
    threads, errors, barrier = 8, [], threading.Barrier(8)

    def open_cards():
        try:
            barrier.wait(timeout=10)
            for _ in range(3):
                services.job_card_open(actor=factories.SYSTEM, location=location,
                                       customer=vehicle.customer, vehicle=vehicle)
        except Exception as exc:  # reported below, with the thread's error
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=open_cards) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    numbers = sorted(JobCard.objects.filter(location=location).values_list("number", flat=True))
    assert numbers == list(range(1, threads * 3 + 1))


# --- job cards: workflow -------------------------------------------------------------------------


def _move(card, status, actor=factories.SYSTEM):
    return services.job_card_transition(job_card=card, to_status=status, actor=actor)


def test_job_card_goes_open_in_progress_completed_closed_with_timestamps():
    card = factories.make_job_card()
    factories.add_line(card)
    for status, stamp in [(JobCardStatus.IN_PROGRESS, "started_at"),
                          (JobCardStatus.COMPLETED, "completed_at"),
                          (JobCardStatus.CLOSED, "closed_at")]:
        card = _move(card, status)
        card.refresh_from_db()
        assert card.status == status
        assert getattr(card, stamp) is not None
    kinds = list(Event.objects.filter(subject_id=card.pk, subject_type="shop.jobcard")
                 .order_by("id").values_list("kind", flat=True))
    assert kinds == ["jobcard.opened", "jobcard.started", "jobcard.completed", "jobcard.closed"]


@pytest.mark.parametrize("status", [JobCardStatus.OPEN, JobCardStatus.IN_PROGRESS,
                                    JobCardStatus.COMPLETED])
def test_job_card_can_be_cancelled_before_it_is_closed(status):
    card = _move(factories.make_job_card_in(status), JobCardStatus.CANCELLED)
    card.refresh_from_db()
    assert card.status == JobCardStatus.CANCELLED
    assert card.cancelled_at is not None


def test_completed_job_card_can_be_reopened_and_completed_again():
    card = factories.make_job_card_in(JobCardStatus.COMPLETED)
    card = _move(card, JobCardStatus.IN_PROGRESS)
    card.refresh_from_db()
    assert (card.status, card.completed_at) == (JobCardStatus.IN_PROGRESS, None)
    assert Event.objects.filter(kind="jobcard.reopened", subject_id=card.pk).count() == 1
    factories.add_line(card, unit_price=Decimal("5.00"))
    card = _move(card, JobCardStatus.COMPLETED)
    assert card.total == Decimal("105.00")


@pytest.mark.parametrize(
    ("status", "target"),
    [
        (JobCardStatus.OPEN, JobCardStatus.COMPLETED),
        (JobCardStatus.OPEN, JobCardStatus.CLOSED),
        (JobCardStatus.OPEN, JobCardStatus.OPEN),
        (JobCardStatus.IN_PROGRESS, JobCardStatus.OPEN),
        (JobCardStatus.IN_PROGRESS, JobCardStatus.CLOSED),
        (JobCardStatus.COMPLETED, JobCardStatus.OPEN),
        (JobCardStatus.CLOSED, JobCardStatus.CANCELLED),
        (JobCardStatus.CLOSED, JobCardStatus.IN_PROGRESS),
        (JobCardStatus.CANCELLED, JobCardStatus.OPEN),
        (JobCardStatus.CANCELLED, JobCardStatus.IN_PROGRESS),
    ],
)
def test_forbidden_job_card_transitions_raise_invalid_transition(status, target):
    card = factories.make_job_card_in(status)
    events_before = Event.objects.count()
    with pytest.raises(InvalidTransition):
        _move(card, target)
    assert JobCard.objects.get(pk=card.pk).status == status
    assert Event.objects.count() == events_before


def test_completing_an_empty_job_card_is_refused():
    card = factories.make_job_card_in(JobCardStatus.IN_PROGRESS, with_line=False)
    with pytest.raises(DomainError) as exc:
        _move(card, JobCardStatus.COMPLETED)
    assert not isinstance(exc.value, InvalidTransition)
    assert JobCard.objects.get(pk=card.pk).status == JobCardStatus.IN_PROGRESS


@pytest.mark.parametrize("status", [JobCardStatus.COMPLETED, JobCardStatus.CLOSED,
                                    JobCardStatus.CANCELLED])
def test_lines_cannot_change_once_the_card_is_finished(status):
    card = factories.make_job_card_in(status)
    line = card.lines.get()
    with pytest.raises(InvalidTransition):
        factories.add_line(card)
    with pytest.raises(InvalidTransition):
        services.job_line_update(line=line, actor=factories.SYSTEM, quantity=Decimal("2"))
    with pytest.raises(InvalidTransition):
        services.job_line_remove(line=line, actor=factories.SYSTEM)
    assert JobLine.objects.filter(job_card=card).count() == 1
    assert JobLine.objects.get(pk=line.pk).quantity == Decimal("1")


def test_part_line_takes_its_price_and_name_from_the_part():
    card = factories.make_job_card()
    part = factories.make_part(name="Cabin filter", price=Decimal("18.40"))
    line = factories.add_line(card, kind=JobLineKind.PART, part=part, unit_price=None,
                              description="", quantity=Decimal("2"))
    card.refresh_from_db()
    assert (line.description, line.unit_price, card.subtotal) == (
        "Cabin filter", Decimal("18.40"), Decimal("36.80"))


def test_part_line_without_a_part_is_refused():
    with pytest.raises(DomainError) as exc:
        factories.add_line(factories.make_job_card(), kind=JobLineKind.PART)
    assert exc.value.field == "part_id"


def test_updating_and_removing_lines_keeps_totals_in_step():
    card = factories.make_job_card()
    line = factories.add_line(card, unit_price=Decimal("80.00"), tax_rate=Decimal("0.1"))
    services.job_line_update(line=line, actor=factories.SYSTEM, quantity=Decimal("1.5"))
    card.refresh_from_db()
    assert (card.subtotal, card.tax_total, card.total) == (
        Decimal("120.00"), Decimal("12.00"), Decimal("132.00"))
    services.job_line_remove(line=line, actor=factories.SYSTEM)
    card.refresh_from_db()
    assert (card.subtotal, card.tax_total, card.total) == (0, 0, 0)


def test_amounts_beyond_the_money_columns_are_refused():
    card = factories.make_job_card()
    with pytest.raises(DomainError):
        factories.add_line(card, quantity=Decimal("9999999.999"), unit_price=Decimal("9999999999.99"))
    assert not card.lines.exists()


# --- totals --------------------------------------------------------------------------------------


def _round(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


LINE = st.fixed_dictionaries({
    "kind": st.sampled_from([JobLineKind.LABOR, JobLineKind.PART, JobLineKind.FEE,
                             JobLineKind.DISCOUNT]),
    "quantity": st.decimals(min_value=Decimal("0.001"), max_value=Decimal("40"), places=3),
    "unit_price": st.decimals(min_value=Decimal("0"), max_value=Decimal("2000"), places=2),
    "tax_rate": st.sampled_from([Decimal("0"), Decimal("0.0625"), Decimal("0.0825"),
                                 Decimal("0.19"), Decimal("0.2")]),
})


class _Rollback(Exception):
    pass


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(LINE, min_size=1, max_size=6))
def test_total_is_subtotal_minus_discount_plus_tax_rounded_per_line_and_never_negative(db, lines):
    part = factories.make_part(price=Decimal("1.00"))
    try:
        with transaction.atomic():
            card = factories.make_job_card()
            subtotal = discount = tax = Decimal("0")
            for spec in lines:
                is_discount = spec["kind"] == JobLineKind.DISCOUNT
                net = _round(spec["quantity"] * spec["unit_price"])
                line_tax = _round((-net if is_discount else net) * spec["tax_rate"])
                after = (subtotal + (0 if is_discount else net),
                         discount + (net if is_discount else 0), tax + line_tax)
                kw = {"part": part} if spec["kind"] == JobLineKind.PART else {}
                if after[0] - after[1] + after[2] < 0:
                    with pytest.raises(DomainError):
                        factories.add_line(card, **spec, **kw)
                    continue
                factories.add_line(card, **spec, **kw)
                subtotal, discount, tax = after
            card.refresh_from_db()
            for value in (card.subtotal, card.discount_total, card.tax_total, card.total):
                assert isinstance(value, Decimal)
            assert (card.subtotal, card.discount_total, card.tax_total) == (subtotal, discount, tax)
            assert card.total == card.subtotal - card.discount_total + card.tax_total
            assert card.total >= 0
            raise _Rollback
    except _Rollback:
        pass


def test_discount_larger_than_the_work_is_refused_and_leaves_the_card_as_it_was():
    card = factories.make_job_card()
    factories.add_line(card, unit_price=Decimal("50.00"))
    with pytest.raises(DomainError) as exc:
        factories.add_line(card, kind=JobLineKind.DISCOUNT, unit_price=Decimal("50.01"))
    card.refresh_from_db()
    assert exc.value.field == "unit_price"
    assert (card.lines.count(), card.total) == (1, Decimal("50.00"))


def test_line_amounts_round_half_up_per_line():
    card = factories.make_job_card()
    # 0.5 x 2.01 = 1.005 → 1.01 per line; tax 8.25 % of 1.01 = 0.083325 → 0.08 per line.
    for _ in range(3):
        factories.add_line(card, quantity=Decimal("0.5"), unit_price=Decimal("2.01"),
                           tax_rate=Decimal("0.0825"))
    card.refresh_from_db()
    assert (card.subtotal, card.tax_total, card.total) == (
        Decimal("3.03"), Decimal("0.24"), Decimal("3.27"))


# --- events --------------------------------------------------------------------------------------


def test_booking_records_appointment_booked_with_customer_actor_and_payload(advisor, vehicle, location):
    template = factories.make_template(code="OIL")
    start = factories.future(30)
    appointment = factories.make_appointment(vehicle=vehicle, location=location, start_at=start,
                                             services=[template], actor=_actor(advisor))
    event = Event.objects.get(kind="appointment.booked")
    assert (event.customer_id, event.subject_type, event.subject_id) == (
        vehicle.customer_id, "shop.appointment", appointment.pk)
    assert (event.actor, event.actor_user_id) == (f"user:{advisor.pk}", advisor.pk)
    assert event.payload == {"start_at": start.isoformat(), "location": location.name,
                             "vehicle": str(vehicle), "services": ["OIL"]}


def test_completing_a_job_records_jobcard_completed_with_number_and_total(advisor):
    card = factories.make_job_card_in(JobCardStatus.IN_PROGRESS)
    _move(card, JobCardStatus.COMPLETED, actor=_actor(advisor))
    event = Event.objects.get(kind="jobcard.completed")
    assert (event.customer_id, event.subject_type, event.subject_id) == (
        card.customer_id, "shop.jobcard", card.pk)
    assert (event.actor, event.actor_user_id) == (f"user:{advisor.pk}", advisor.pk)
    assert event.payload == {"number": card.number, "from": "in_progress", "total": "100.00"}


def test_adding_a_note_records_note_added_with_an_excerpt(technician, customer):
    body = "Customer mentions a squeal from the front left wheel when braking. " * 4
    note = services.note_add(customer=customer, actor=_actor(technician), body=f"  {body}  ",
                             pinned=True)
    event = Event.objects.get(kind="note.added")
    assert note.body == body.strip()
    assert (event.customer_id, event.subject_id, event.actor_user_id) == (
        customer.pk, note.pk, technician.pk)
    assert event.payload == {"excerpt": body.strip()[:140], "pinned": True}


def test_empty_note_is_refused(customer):
    with pytest.raises(DomainError) as exc:
        services.note_add(customer=customer, actor=factories.SYSTEM, body="   ")
    assert exc.value.field == "body"
    assert not Event.objects.filter(kind="note.added").exists()


def test_a_service_that_fails_after_recording_leaves_no_event():
    from servicebay.shop.signals import job_card_status_changed

    card = factories.make_job_card_in(JobCardStatus.IN_PROGRESS)

    def refuse(**kwargs):
        raise RuntimeError("a receiver failed")

    job_card_status_changed.connect(refuse, dispatch_uid="test-refuse")
    try:
        with pytest.raises(RuntimeError):
            _move(card, JobCardStatus.COMPLETED)
    finally:
        job_card_status_changed.disconnect(dispatch_uid="test-refuse")
    assert not Event.objects.filter(kind="jobcard.completed").exists()
    assert JobCard.objects.get(pk=card.pk).status == JobCardStatus.IN_PROGRESS


def test_refused_vehicle_leaves_no_event(customer):
    with pytest.raises(ValidationError):
        factories.make_vehicle(customer, year=1800)
    assert not Event.objects.filter(kind="vehicle.added").exists()
    assert not Vehicle.objects.exists()
