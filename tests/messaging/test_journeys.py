from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from servicebay.core.errors import DomainError
from servicebay.messaging import consent, defaults, journeys, outbox
from servicebay.messaging.choices import (
    Channel,
    ConsentSource,
    EnrollmentStatus,
    MessageStatus,
    Purpose,
)
from servicebay.messaging.models import Journey, JourneyEnrollment, Message, MessageTemplate
from servicebay.messaging.tasks import messaging_run_once
from servicebay.shop import services as shop_services
from servicebay.shop.choices import AppointmentStatus, JobCardStatus, JobLineKind
from servicebay.shop.models import JobCard
from tests import factories
from tests.messaging.conftest import STAFF

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")


def install_defaults():
    defaults.install(MessageTemplate, Journey)


def journey(code: str, **changes) -> Journey:
    install_defaults()
    found = Journey.objects.get(code=code)
    if changes:
        journeys.journey_update(journey=found, actor=STAFF, **changes)
    return journeys.journey_set_active(journey=found, active=True, actor=STAFF)


def opt_in(customer, purpose=Purpose.MARKETING, channels=(Channel.EMAIL, Channel.SMS)):
    for channel in channels:
        consent.consent_record(customer=customer, channel=channel, purpose=purpose, granted=True,
                               source=ConsentSource.FORM, actor=STAFF)


# --- definitions ---------------------------------------------------------------------------------


def make(definition, **kw):
    install_defaults()
    return journeys.journey_create(actor=STAFF, code=kw.pop("code", "j1"), name="J", definition=definition, **kw)


SEND = {"type": "send", "template": "birthday-greeting", "purpose": "marketing"}


def test_definition_errors_name_the_step_and_field():
    with pytest.raises(DomainError) as exc:
        make({"trigger": {"type": "birthday"}, "steps": [{"type": "wait", "dayz": 2}, SEND]})
    assert exc.value.field == "definition"
    assert "steps.0" in exc.value.message


def test_definition_needs_a_send_step():
    with pytest.raises(DomainError, match="at least one send step"):
        make({"trigger": {"type": "birthday"}, "steps": [{"type": "wait", "days": 1}]})


def test_wait_needs_a_duration():
    with pytest.raises(DomainError, match="A wait needs"):
        make({"trigger": {"type": "birthday"}, "steps": [{"type": "wait"}, SEND]})


def test_unknown_event_trigger_is_refused():
    with pytest.raises(DomainError, match="trigger"):
        make({"trigger": {"type": "event", "event": "customer.sneezed"}, "steps": [SEND]})


def test_send_step_must_name_an_existing_template():
    with pytest.raises(DomainError, match="no template with code 'nope'"):
        make({"trigger": {"type": "birthday"}, "steps": [{**SEND, "template": "nope"}]})


def test_journey_quiet_hours_come_in_pairs():
    with pytest.raises(DomainError) as exc:
        make({"trigger": {"type": "birthday"}, "steps": [SEND]}, quiet_hours_start=time(20))
    assert exc.value.field == "quiet_hours_end"


def test_new_journeys_start_switched_off_and_changes_bump_the_version():
    created = make({"trigger": {"type": "birthday"}, "steps": [SEND]})
    assert not created.is_active and created.version == 1
    updated = journeys.journey_update(journey=created, actor=STAFF, definition={
        "trigger": {"type": "birthday", "send_at": "09:00"}, "steps": [SEND]})
    assert updated.version == 2


def test_ready_made_journeys_are_installed_switched_off():
    install_defaults()
    codes = set(Journey.objects.values_list("code", flat=True))
    assert {"post-service-follow-up", "appointment-reminder", "birthday-greeting", "service-reminder",
            "declined-work-follow-up"} <= codes
    assert not Journey.objects.filter(is_active=True).exists()


# --- event triggers (the consumer reads committed events: transactional tests) ------------------


@pytest.mark.django_db(transaction=True)
def test_post_service_follow_up_is_emailed_two_days_after_check_out_at_ten(smtp_server):
    from tests.visits.factories import finished_visit

    follow_up = journey("post-service-follow-up")
    location = factories.make_location(time_zone="America/Chicago")
    customer = factories.make_customer(home_location=location)
    vehicle = factories.make_vehicle(customer, make="Subaru")
    visit = finished_visit(vehicle, location=location)
    now = timezone.now()
    messaging_run_once(now=now)
    enrollment = JourneyEnrollment.objects.get(journey=follow_up, customer=customer)
    assert enrollment.trigger_key == f"visit.checked_out:visits.customervisit:{visit.pk}"
    local_due = (visit.check_out_at.astimezone(ZoneInfo("America/Chicago")) + timedelta(days=2))
    expected_day = local_due.date() + (timedelta(days=1) if local_due.time() > time(10) else timedelta())
    assert enrollment.next_step_at.astimezone(ZoneInfo("America/Chicago")).replace(tzinfo=None) == (
        datetime.combine(expected_day, time(10)))
    assert Message.objects.count() == 0
    messaging_run_once(now=enrollment.next_step_at + timedelta(minutes=1))
    message = Message.objects.get(journey=follow_up)
    assert message.status == MessageStatus.SENT and message.channel == Channel.EMAIL
    [mail] = smtp_server.messages()
    assert mail["Subject"] == "How is your Subaru driving, Dana?"
    assert location.name in mail.get_body(("plain",)).get_content()


@pytest.mark.django_db(transaction=True)
def test_events_before_the_journey_was_switched_on_do_not_enroll():
    from tests.visits.factories import finished_visit

    install_defaults()
    customer = factories.make_customer(home_location=factories.make_location())
    finished_visit(factories.make_vehicle(customer))
    journey("post-service-follow-up")
    journeys.events_consume()
    assert not JourneyEnrollment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_consuming_the_same_events_again_enrolls_and_sends_once():
    from servicebay.messaging.models import EventCursor
    from tests.visits.factories import finished_visit

    follow_up = journey("post-service-follow-up")
    customer = factories.make_customer(home_location=factories.make_location())
    finished_visit(factories.make_vehicle(customer))
    later = timezone.now() + timedelta(days=3)
    messaging_run_once(now=later, dispatch=False)
    EventCursor.objects.update(last_id=0, last_txid=0)  # as if the cursor's commit was lost
    messaging_run_once(now=later, dispatch=False)
    assert JourneyEnrollment.objects.filter(journey=follow_up).count() == 1
    assert Message.objects.filter(journey=follow_up).count() == 1


@pytest.mark.django_db(transaction=True)
def test_late_committing_event_is_still_consumed():
    """An event with a lower id that commits after a higher one must not be skipped (DESIGN §3)."""
    import threading

    from django.db import connection, transaction

    from servicebay.activity.services import record

    declined = journey("declined-work-follow-up")
    first = factories.make_customer(home_location=factories.make_location())
    second = factories.make_customer(home_location=first.home_location)

    if connection.vendor != "postgresql":
        # One writer at a time: a transaction that took an id commits before the next can write.
        for customer in (first, second):
            with transaction.atomic():
                record("recommendation.declined", actor=STAFF, customer=customer)
        journeys.events_consume()
        assert JourneyEnrollment.objects.filter(journey=declined).count() == 2
        return

    written, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                record("recommendation.declined", actor=STAFF, customer=first)  # lower id, older txid
                written.set()
                release.wait(10)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert written.wait(10)
    with transaction.atomic():
        record("recommendation.declined", actor=STAFF, customer=second)  # higher id, commits first
    journeys.events_consume()
    # Only the committed event is read; the open transaction's event is not skipped for good.
    assert list(JourneyEnrollment.objects.filter(journey=declined).values_list("customer_id", flat=True)) == [
        second.pk]
    release.set()
    assert done.wait(10)
    thread.join()
    journeys.events_consume()
    assert set(JourneyEnrollment.objects.filter(journey=declined).values_list("customer_id", flat=True)) == {
        first.pk, second.pk}


# --- date triggers -------------------------------------------------------------------------------


def test_birthday_greeting_at_ten_local_time_expiring_at_midnight(open_location):
    birthday_journey = journey("birthday-greeting")
    today_tokyo = timezone.now().astimezone(ZoneInfo("Asia/Tokyo")).date()
    tomorrow = today_tokyo + timedelta(days=1)
    customer = factories.make_customer(home_location=open_location, time_zone="Asia/Tokyo",
                                       birthday=tomorrow.replace(year=1990))
    opt_in(customer)
    journeys.dates_plan(now=timezone.now())
    enrollment = JourneyEnrollment.objects.get(journey=birthday_journey, customer=customer)
    assert enrollment.trigger_key == f"birthday:{tomorrow.year}"
    assert enrollment.next_step_at == datetime.combine(tomorrow, time(10), ZoneInfo("Asia/Tokyo"))
    journeys.enrollments_advance(now=enrollment.next_step_at)
    message = Message.objects.get(journey=birthday_journey)
    assert message.expires_at == datetime.combine(tomorrow + timedelta(days=1), time(0), ZoneInfo("Asia/Tokyo"))
    assert message.body == f"Happy birthday, {customer.first_name}! Everyone at ServiceBay wishes you a great day."


def test_birthday_is_planned_once_per_year(open_location):
    journey("birthday-greeting")
    today = timezone.now().date()
    factories.make_customer(home_location=open_location, birthday=(today + timedelta(days=1)).replace(year=1985))
    assert journeys.dates_plan() == 1
    assert journeys.dates_plan() == 0


def test_february_29_birthdays_are_greeted_on_february_28_in_other_years(open_location):
    birthday_journey = journey("birthday-greeting")
    customer = factories.make_customer(home_location=open_location, birthday=date(1992, 2, 29), time_zone="UTC")
    journeys.dates_plan(now=datetime(2027, 2, 27, 12, 0, tzinfo=UTC))
    enrollment = JourneyEnrollment.objects.get(journey=birthday_journey, customer=customer)
    assert enrollment.next_step_at == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("quiet_until", "status"), [(time(23, 59), MessageStatus.DEFERRED),
                                                     (time(0, 30), MessageStatus.SKIPPED)])
def test_birthday_greeting_deferred_by_quiet_hours_is_skipped_once_past_midnight(open_location, quiet_until, status):
    birthday_journey = journey("birthday-greeting", quiet_hours_start=time(9), quiet_hours_end=quiet_until)
    customer = factories.make_customer(home_location=open_location, time_zone="UTC", birthday=date(1990, 6, 1))
    opt_in(customer)
    journeys.journey_enroll(journey=birthday_journey, customer_id=customer.pk, trigger_key="birthday:2030",
                            start_at=datetime(2030, 6, 1, 10, 0, tzinfo=UTC),
                            context={"expires_at": datetime(2030, 6, 2, tzinfo=UTC).isoformat()})
    journeys.enrollments_advance(now=datetime(2030, 6, 1, 10, 0, tzinfo=UTC))
    message = Message.objects.get(journey=birthday_journey)
    assert message.status == status
    if status == MessageStatus.SKIPPED:
        assert "after the message expires" in message.skip_reason


def test_appointment_reminder_a_day_before(open_location):
    reminder = journey("appointment-reminder")
    customer = factories.make_customer(home_location=open_location)
    vehicle = factories.make_vehicle(customer)
    start = timezone.now().replace(microsecond=0) + timedelta(hours=30)
    appointment = factories.make_appointment(vehicle=vehicle, location=open_location, start_at=start)
    journeys.dates_plan()
    enrollment = JourneyEnrollment.objects.get(journey=reminder)
    assert enrollment.next_step_at == start - timedelta(hours=24)
    journeys.enrollments_advance(now=start - timedelta(hours=24))
    message = Message.objects.get(journey=reminder)
    assert message.expires_at == start
    assert open_location.name in message.body and str(appointment.pk) not in message.trigger_key[:5]


def test_cancelled_appointment_gets_no_reminder(open_location):
    reminder = journey("appointment-reminder")
    customer = factories.make_customer(home_location=open_location)
    start = timezone.now() + timedelta(hours=30)
    appointment = factories.make_appointment(vehicle=factories.make_vehicle(customer), location=open_location,
                                             start_at=start)
    journeys.dates_plan()
    shop_services.appointment_set_status(appointment=appointment, status=AppointmentStatus.CANCELLED, actor=STAFF)
    journeys.enrollments_advance(now=start - timedelta(hours=23))
    enrollment = JourneyEnrollment.objects.get(journey=reminder)
    assert enrollment.status == EnrollmentStatus.EXITED
    assert not Message.objects.filter(journey=reminder).exists()


def test_rescheduled_appointment_is_reminded_for_the_new_time_only(open_location):
    reminder = journey("appointment-reminder")
    customer = factories.make_customer(home_location=open_location)
    start = timezone.now().replace(microsecond=0) + timedelta(hours=30)
    appointment = factories.make_appointment(vehicle=factories.make_vehicle(customer), location=open_location,
                                             start_at=start)
    journeys.dates_plan()
    shop_services.appointment_reschedule(appointment=appointment, start_at=start + timedelta(hours=10), actor=STAFF)
    journeys.dates_plan()
    journeys.enrollments_advance(now=start + timedelta(hours=1))
    sent = Message.objects.filter(journey=reminder)
    assert sent.count() == 1
    assert sent.get().expires_at == start + timedelta(hours=10)


def _completed_service(vehicle, location, templates, completed_at):
    card = factories.make_job_card(vehicle=vehicle, location=location)
    for template in templates:
        shop_services.job_line_add(job_card=card, actor=STAFF, kind=JobLineKind.LABOR, description=template.name,
                                   service_template=template, unit_price=Decimal("50"))
    shop_services.job_card_transition(job_card=card, to_status=JobCardStatus.IN_PROGRESS, actor=STAFF)
    shop_services.job_card_transition(job_card=card, to_status=JobCardStatus.COMPLETED, actor=STAFF)
    JobCard.objects.filter(pk=card.pk).update(opened_at=completed_at, completed_at=completed_at)
    return card


def test_services_due_the_same_week_are_bundled_into_one_reminder(open_location):
    reminder = journey("service-reminder")
    customer = factories.make_customer(home_location=open_location, time_zone="UTC")
    opt_in(customer)
    vehicle = factories.make_vehicle(customer, make="Mazda")
    oil = factories.make_template(name="Oil change", interval_months=6)
    rotation = factories.make_template(name="Tyre rotation", interval_months=6)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    due = (now + timedelta(days=8)).date()
    done = datetime.combine(journeys.add_months(due, -6), time(12), UTC)
    _completed_service(vehicle, open_location, [oil, rotation], done)
    journeys.dates_plan(now=now)
    enrollment = JourneyEnrollment.objects.get(journey=reminder)
    assert enrollment.context["service_due"]["services"] == ["Oil change", "Tyre rotation"]
    journeys.enrollments_advance(now=enrollment.next_step_at)
    message = Message.objects.get(journey=reminder)
    assert "Oil change and Tyre rotation" in message.subject or "Oil change and Tyre rotation" in message.body


def test_service_due_by_mileage_is_reminded_once_until_done_again(open_location):
    reminder = journey("service-reminder")
    customer = factories.make_customer(home_location=open_location, time_zone="UTC")
    opt_in(customer)
    vehicle = factories.make_vehicle(customer, odometer=40_000)
    oil = factories.make_template(name="Oil change", interval_months=None, interval_miles=5000)
    card = _completed_service(vehicle, open_location, [oil], timezone.now() - timedelta(days=40))
    JobCard.objects.filter(pk=card.pk).update(odometer_in=40_000)
    assert journeys.dates_plan() == 0
    shop_services.vehicle_update(vehicle=vehicle, actor=STAFF, odometer=45_200)
    assert journeys.dates_plan() == 1
    enrollment = JourneyEnrollment.objects.get(journey=reminder)
    assert enrollment.context["service_due"]["services"] == ["Oil change"]
    later = timezone.now() + timedelta(days=10)
    assert journeys.dates_plan(now=later) == 0  # not again next week


def test_service_reminder_is_held_when_the_vehicle_was_sold(open_location):
    reminder = journey("service-reminder")
    customer = factories.make_customer(home_location=open_location)
    vehicle = factories.make_vehicle(customer)
    enrollment = journeys.journey_enroll(journey=reminder, customer_id=customer.pk, trigger_key="service_due:y",
                                         start_at=timezone.now(), context={"vehicle_id": vehicle.pk})
    from servicebay.shop.models import Vehicle

    Vehicle.objects.filter(pk=vehicle.pk).update(customer=factories.make_customer())
    journeys.enrollments_advance()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.EXITED
    assert enrollment.exit_reason == "The vehicle was sold or moved to another customer."


def test_service_reminder_holds_when_an_appointment_is_booked(open_location):
    reminder = journey("service-reminder")
    customer = factories.make_customer(home_location=open_location, time_zone="UTC")
    vehicle = factories.make_vehicle(customer)
    enrollment = journeys.journey_enroll(journey=reminder, customer_id=customer.pk, trigger_key="service_due:x",
                                         start_at=timezone.now(), context={"service_due": {"services": ["Oil"]}})
    factories.make_appointment(vehicle=vehicle, location=open_location)
    journeys.enrollments_advance()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.EXITED
    assert enrollment.exit_reason == "An appointment is already booked."


# --- steps, hold-outs, switching off -------------------------------------------------------------


def test_declined_work_follow_up_exits_when_the_customer_booked_since(open_location):
    declined = journey("declined-work-follow-up")
    customer = factories.make_customer(home_location=open_location)
    enrollment = journeys.journey_enroll(
        journey=declined, customer_id=customer.pk, trigger_key="recommendation.declined:x",
        start_at=timezone.now() - timedelta(days=15), context={"at": (timezone.now() - timedelta(days=15)).isoformat()})
    factories.make_appointment(vehicle=factories.make_vehicle(customer), location=open_location)
    journeys.enrollments_advance()
    journeys.enrollments_advance()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.EXITED
    assert not Message.objects.exists()


def test_exit_step_ends_the_journey_before_later_steps(open_location):
    install_defaults()
    exiting = journeys.journey_create(actor=STAFF, code="exit-early", name="Exit", definition={
        "trigger": {"type": "birthday"},
        "steps": [{"type": "exit", "reason": "paused"}, SEND]})
    journeys.journey_set_active(journey=exiting, active=True, actor=STAFF)
    customer = factories.make_customer(home_location=open_location)
    enrollment = journeys.journey_enroll(journey=exiting, customer_id=customer.pk, trigger_key="t",
                                         start_at=timezone.now())
    journeys.enrollments_advance()
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (EnrollmentStatus.EXITED, "paused")
    assert not Message.objects.exists()


def test_hold_out_customers_are_recorded_but_get_nothing(open_location):
    birthday_journey = journey("birthday-greeting", holdout_percent=50)
    customers = [factories.make_customer(home_location=open_location) for _ in range(30)]
    for customer in customers:
        journeys.journey_enroll(journey=birthday_journey, customer_id=customer.pk, trigger_key="b",
                                start_at=timezone.now())
    journeys.enrollments_advance()
    held = JourneyEnrollment.objects.filter(status=EnrollmentStatus.HELD_OUT)
    assert 0 < held.count() < 30
    assert not Message.objects.filter(customer_id__in=held.values("customer_id")).exists()
    assert Message.objects.count() == 30 - held.count()


def test_switching_a_journey_off_cancels_what_it_scheduled(open_location):
    reminder = journey("appointment-reminder")
    customer = factories.make_customer(home_location=open_location)
    factories.make_appointment(vehicle=factories.make_vehicle(customer), location=open_location,
                               start_at=timezone.now() + timedelta(hours=30))
    journeys.dates_plan()
    journeys.enrollments_advance(now=timezone.now() + timedelta(hours=6, minutes=1))
    message = Message.objects.get(journey=reminder)
    Message.objects.filter(pk=message.pk).update(scheduled_for=timezone.now() + timedelta(hours=1))
    journeys.journey_set_active(journey=reminder, active=False, actor=STAFF)
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED


def test_a_send_step_runs_once_even_if_the_step_is_replayed(reachable):
    birthday_journey = journey("birthday-greeting")
    enrollment = journeys.journey_enroll(journey=birthday_journey, customer_id=reachable.pk, trigger_key="b",
                                         start_at=timezone.now())
    journeys.enrollments_advance()
    JourneyEnrollment.objects.filter(pk=enrollment.pk).update(status=EnrollmentStatus.ACTIVE, step_index=0,
                                                              next_step_at=timezone.now())
    journeys.enrollments_advance()
    assert Message.objects.filter(journey=birthday_journey).count() == 1


def test_frequency_cap_limits_marketing_messages_per_week(reachable, settings):
    settings.MESSAGING_MARKETING_CAP = (2, 7)
    birthday_journey = journey("birthday-greeting")
    for n in range(3):
        journeys.journey_enroll(journey=birthday_journey, customer_id=reachable.pk, trigger_key=f"b{n}",
                                start_at=timezone.now())
    journeys.enrollments_advance()
    statuses = sorted(Message.objects.values_list("status", flat=True))
    assert statuses == ["queued", "queued", "skipped"]


# --- dry run and attribution ---------------------------------------------------------------------


def test_dry_run_shows_who_gets_what_without_writing(open_location):
    install_defaults()
    birthday_journey = Journey.objects.get(code="birthday-greeting")
    soon = timezone.now().date() + timedelta(days=3)
    opted = factories.make_customer(home_location=open_location, birthday=soon.replace(year=1980), time_zone="UTC")
    opt_in(opted)
    silent = factories.make_customer(home_location=open_location, birthday=soon.replace(year=1981), time_zone="UTC")
    rows = journeys.journey_dry_run(journey=birthday_journey, days=7)
    by_customer = {row.customer.pk: row for row in rows}
    assert by_customer[opted.pk].status == MessageStatus.QUEUED
    assert by_customer[opted.pk].when == datetime.combine(soon, time(10), UTC)
    assert by_customer[silent.pk].status == MessageStatus.SKIPPED
    assert "no marketing opt-in" in by_customer[silent.pk].reason
    assert not Message.objects.exists() and not JourneyEnrollment.objects.exists()


def test_attribution_compares_the_journey_with_its_hold_out_group(open_location):
    birthday_journey = journey("birthday-greeting", holdout_percent=50, attribution_days=14)
    customers = [factories.make_customer(home_location=open_location) for _ in range(20)]
    for customer in customers:
        journeys.journey_enroll(journey=birthday_journey, customer_id=customer.pk, trigger_key="b",
                                start_at=timezone.now())
    treated = JourneyEnrollment.objects.exclude(status=EnrollmentStatus.HELD_OUT).values_list("customer_id", flat=True)
    booker = next(c for c in customers if c.pk in set(treated))
    factories.make_appointment(vehicle=factories.make_vehicle(booker), location=open_location)
    result = journeys.journey_attribution(journey=birthday_journey)
    assert result.treated.booked == 1 and result.control.booked == 0
    assert result.treated.customers + result.control.customers == 20
    assert result.lift > 0


def test_unknown_journey_template_change_is_caught_at_activation():
    install_defaults()
    created = make({"trigger": {"type": "birthday"}, "steps": [SEND]}, code="j-act")
    MessageTemplate.objects.filter(code="birthday-greeting").update(code="renamed")
    with pytest.raises(DomainError, match="no template"):
        journeys.journey_set_active(journey=created, active=True, actor=STAFF)


def test_journey_message_goes_out_through_the_outbox(reachable, smtp_server):
    birthday_journey = journey("birthday-greeting")
    journeys.journey_enroll(journey=birthday_journey, customer_id=reachable.pk, trigger_key="x",
                            start_at=timezone.now())
    journeys.enrollments_advance()
    message = Message.objects.get(journey=birthday_journey)
    assert message.idempotency_key == f"j{birthday_journey.pk}:s0:c{reachable.pk}:tx"
    outbox.outbox_dispatch()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert smtp_server.messages()[0]["Subject"] == f"Happy birthday, {reachable.first_name}!"
