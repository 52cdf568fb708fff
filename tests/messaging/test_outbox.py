"""Sending over real protocols: SMTP to an aiosmtpd server, SMS/WhatsApp to a local HTTP server
speaking the Twilio API. Nothing is monkeypatched."""

import json
from datetime import time, timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicebay.activity.models import Event
from servicebay.messaging import consent, outbox, services
from servicebay.messaging.choices import (
    Channel,
    ConsentSource,
    MessageStatus,
    Purpose,
    SuppressionReason,
)
from servicebay.messaging.models import ConsentRecord, Message
from servicebay.messaging.providers import provider_for
from tests import factories
from tests.messaging.conftest import STAFF, free_port

pytestmark = pytest.mark.django_db


def template(**fields):
    data = {"code": f"t{next(factories._seq)}", "name": "T", "purpose": "transactional",
            "email_subject": "Hello {{ customer.first_name }}", "email_text": "Text for {{ customer.first_name }}",
            "email_html": "<p>HTML for {{ customer.first_name }}</p>", "sms_body": "SMS for {{ customer.first_name }}"}
    return services.message_template_create(actor=STAFF, **{**data, **fields})


def schedule(customer, channel, purpose=Purpose.TRANSACTIONAL, **kw):
    kw.setdefault("template", template(purpose=purpose))
    return services.message_schedule(customer=customer, purpose=purpose, actor=STAFF, channel=channel, **kw)


# --- email over SMTP -----------------------------------------------------------------------------


def test_email_goes_out_over_smtp_with_one_click_unsubscribe_headers(reachable, smtp_server):
    message = schedule(reachable, Channel.EMAIL)
    stats = outbox.outbox_dispatch()
    assert stats.sent == 1
    received = smtp_server.messages()
    assert len(received) == 1
    mail = received[0]
    assert mail["To"] == reachable.email
    assert mail["Subject"] == f"Hello {reachable.first_name}"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["List-Unsubscribe"].strip().startswith("<https://shop.example/messaging/u/")
    html = mail.get_body(("html",)).get_content()
    assert f"HTML for {reachable.first_name}" in html
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == mail["Message-ID"].strip("<>")
    assert Event.objects.filter(kind="message.sent", subject_id=message.pk).exists()


def test_one_click_unsubscribe_needs_no_login_and_withdraws_consent(reachable, smtp_server, client):
    schedule(reachable, Channel.EMAIL, purpose=Purpose.MARKETING)
    outbox.outbox_dispatch()
    url = smtp_server.messages()[0]["List-Unsubscribe"].strip().strip("<>")
    response = client.post(urlparse(url).path, "List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert not consent.can_contact(reachable, Channel.EMAIL, Purpose.MARKETING).allowed
    assert consent.can_contact(reachable, Channel.EMAIL, Purpose.TRANSACTIONAL).allowed
    latest = ConsentRecord.objects.filter(customer=reachable).first()
    assert latest.source == ConsentSource.UNSUBSCRIBE_LINK


def test_unsubscribe_page_get_only_asks(reachable, client):
    url = services._unsubscribe_url(reachable, Purpose.MARKETING)
    response = client.get(urlparse(url).path)
    assert response.status_code == 200
    assert b"Unsubscribe" in response.content
    assert consent.can_contact(reachable, Channel.EMAIL, Purpose.MARKETING).allowed


def test_forged_unsubscribe_token_is_refused(client, reachable):
    response = client.post("/messaging/u/not-a-token/")
    assert response.status_code == 404
    assert consent.can_contact(reachable, Channel.EMAIL, Purpose.MARKETING).allowed


def test_hard_bounce_fails_the_message_and_suppresses_the_address(reachable, smtp_server):
    smtp_server.bounce.add(reachable.email)
    message = schedule(reachable, Channel.EMAIL)
    outbox.outbox_dispatch()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert consent.suppression_active(Channel.EMAIL, reachable.email).reason == SuppressionReason.BOUNCE


def test_mail_server_down_is_retried_later(reachable, smtp_server, settings):
    settings.EMAIL_PORT = free_port()  # nothing listens here
    message = schedule(reachable, Channel.EMAIL)
    outbox.outbox_dispatch()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 1
    assert message.scheduled_for > timezone.now() + timedelta(seconds=50)
    assert "unreachable" in message.last_error


def test_email_claimed_but_never_handed_over_is_queued_again_and_sent_once(reachable, smtp_server):
    message = schedule(reachable, Channel.EMAIL)
    [claimed] = outbox.outbox_claim()  # the worker claims it, then dies before the SMTP conversation
    assert claimed.handoff_token == claimed.lease_token and claimed.handoff_started_at is None
    later = timezone.now() + outbox.LEASE + timedelta(seconds=1)
    assert outbox.outbox_expire_leases(now=later) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 0  # never attempted: not counted
    assert message.last_error.startswith("Released unsent")
    assert not Event.objects.filter(kind="message.unknown", subject_id=message.pk).exists()
    assert outbox.outbox_reconcile(now=later).retried == 0  # nothing for reconciliation
    assert outbox.outbox_dispatch(now=later).sent == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 1
    assert message.handoff_started_at is not None
    assert len(smtp_server.messages()) == 1
    assert outbox.outbox_drain(now=later + timedelta(hours=1)).claimed == 0
    assert len(smtp_server.messages()) == 1


@pytest.mark.parametrize("server_got_it", [True, False])
def test_email_whose_hand_off_started_is_held_for_a_person(reachable, smtp_server, server_got_it):
    message = schedule(reachable, Channel.EMAIL)
    [claimed] = outbox.outbox_claim()
    assert outbox.outbox_handoff_begin(claimed) is None
    if server_got_it:
        provider_for(Channel.EMAIL).send(outbox.outgoing(claimed))  # ... and the worker dies here
    later = timezone.now() + outbox.LEASE + timedelta(seconds=1)
    assert outbox.outbox_expire_leases(now=later) == 1
    outbox.outbox_reconcile(now=later)
    message.refresh_from_db()
    # We cannot tell the two apart, so neither is resent blindly.
    assert message.status == MessageStatus.UNKNOWN
    assert message.last_error.startswith("Held for a person")
    assert "hand-off to the email server started at" in message.last_error
    assert message.handoff_started_at is not None
    assert outbox.outbox_dispatch(now=later + timedelta(hours=1)).claimed == 0
    outbox.message_resolve(message=message, outcome="sent" if server_got_it else "resend", actor=STAFF)
    outbox.outbox_dispatch()
    assert len(smtp_server.messages()) == 1


def test_the_hand_off_of_an_earlier_attempt_does_not_count_for_the_next(reachable, smtp_server, settings):
    message = schedule(reachable, Channel.EMAIL)
    port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()  # attempt 1: handed over, server down
    [first] = outbox.outbox_claim()
    assert outbox.outbox_handoff_begin(first) is None
    outbox.outbox_record(first, outbox.outbox_send(first))
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 1
    assert message.handoff_started_at is not None
    settings.EMAIL_PORT = port
    later = message.scheduled_for + timedelta(seconds=1)
    [second] = outbox.outbox_claim(now=later)  # attempt 2: claimed, the worker dies before hand-off
    assert second.handoff_started_at is None
    # A late hand-off from attempt 1's worker is refused, not taken as attempt 2's.
    assert isinstance(outbox.outbox_handoff_begin(first), outbox.LeaseRanOut)
    expired = later + outbox.LEASE + timedelta(seconds=1)
    outbox.outbox_expire_leases(now=expired)
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 1
    assert message.handoff_started_at is None
    outbox.outbox_dispatch(now=expired)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 2
    assert len(smtp_server.messages()) == 1


def test_an_email_claimed_without_a_hand_off_record_of_its_own_is_held(reachable, smtp_server):
    """A claim by a worker that does not keep the record (an older release, mid-deploy) proves
    nothing: the email stays unknown for a person."""
    message = schedule(reachable, Channel.EMAIL)
    [claimed] = outbox.outbox_claim()
    Message.objects.filter(pk=message.pk).update(handoff_token="")
    assert isinstance(outbox.outbox_handoff_begin(claimed), outbox.LeaseRanOut)  # not ours to send
    later = timezone.now() + outbox.LEASE + timedelta(seconds=1)
    outbox.outbox_expire_leases(now=later)
    outbox.outbox_reconcile(now=later)
    message.refresh_from_db()
    assert message.status == MessageStatus.UNKNOWN
    assert message.last_error.startswith("Held for a person")
    assert smtp_server.messages() == []


def test_concurrent_dispatch_records_each_hand_off_before_its_smtp_conversation(
    open_location, smtp_server, provider,
):
    customers = [factories.make_customer(home_location=open_location) for _ in range(7)]
    for customer in customers:
        schedule(customer, Channel.EMAIL)
        schedule(customer, Channel.SMS)
    stats = outbox.outbox_dispatch(concurrency=2)
    assert stats.sent == 14 and stats.released == 0
    emails = list(Message.objects.filter(channel=Channel.EMAIL))
    assert all(m.status == MessageStatus.SENT and m.handoff_token == m.lease_token for m in emails)
    assert all(m.sending_started_at <= m.handoff_started_at <= m.sent_at for m in emails)
    assert not Message.objects.filter(channel=Channel.SMS, handoff_started_at__isnull=False).exists()
    assert len(smtp_server.messages()) == 7 and len(provider.accepted) == 7


# --- SMS and WhatsApp over the HTTP API ----------------------------------------------------------


def test_sms_goes_out_over_the_http_api(reachable, provider):
    message = schedule(reachable, Channel.SMS)
    assert outbox.outbox_dispatch().sent == 1
    assert provider.bodies_to(reachable.phone) == [f"SMS for {reachable.first_name}"]
    sent = provider.accepted[0]
    assert sent["from"] == "+13125550100"
    assert sent["status_callback"] == "https://shop.example/messaging/webhooks/sms/status/"
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.provider_message_id == sent["sid"]


def test_recipient_unsubscribed_error_suppresses_the_number(reachable, provider):
    provider.behaviours[reachable.phone] = "21610"
    first = schedule(reachable, Channel.SMS)
    outbox.outbox_dispatch()
    first.refresh_from_db()
    assert first.status == MessageStatus.FAILED and first.last_error.startswith("21610")
    assert consent.suppression_active(Channel.SMS, reachable.phone).reason == SuppressionReason.OPT_OUT
    later = schedule(reachable, Channel.SMS)
    assert later.status == MessageStatus.SKIPPED and "suppressed" in later.skip_reason


def test_server_errors_are_retried_with_backoff_until_accepted(reachable, provider):
    provider.fail_first[reachable.phone] = 2
    message = schedule(reachable, Channel.SMS)
    now = timezone.now()
    for _ in range(3):
        outbox.outbox_dispatch(now=now)
        message.refresh_from_db()
        now = message.scheduled_for + timedelta(seconds=1)
    assert message.status == MessageStatus.SENT
    assert message.attempts == 3
    assert len(provider.bodies_to(reachable.phone)) == 1


def test_backoff_grows_and_gives_up_after_the_last_attempt(reachable, provider):
    provider.behaviours[reachable.phone] = "500"
    message = schedule(reachable, Channel.SMS)
    now, gaps = timezone.now(), []
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.outbox_dispatch(now=now)
        message.refresh_from_db()
        gaps.append(message.scheduled_for - now)
        now = message.scheduled_for + timedelta(seconds=1)
    assert message.status == MessageStatus.FAILED
    assert gaps[0] < gaps[1] < gaps[2] < gaps[3]
    assert gaps[1] > gaps[0] * 2
    assert Event.objects.filter(kind="message.failed", subject_id=message.pk).exists()


def test_invalid_number_fails_without_retry(reachable, provider):
    provider.behaviours[reachable.phone] = "400"
    message = schedule(reachable, Channel.SMS)
    outbox.outbox_dispatch()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 1)
    assert consent.suppression_active(Channel.SMS, reachable.phone) is None


def test_timeout_after_accept_is_reconciled_not_resent(reachable, provider, settings):
    settings.MESSAGING_HTTP_TIMEOUT = 0.3
    provider.hang_seconds = 1.0
    provider.behaviours[reachable.phone] = "hang"
    message = schedule(reachable, Channel.SMS)
    assert outbox.outbox_dispatch().unknown == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.UNKNOWN
    provider.behaviours.clear()
    later = timezone.now() + outbox.RECONCILE_EVERY + timedelta(seconds=1)
    assert outbox.outbox_reconcile(now=later).sent == 1
    outbox.outbox_drain(now=later + timedelta(hours=1))
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == provider.accepted[0]["sid"]
    assert len(provider.bodies_to(reachable.phone)) == 1


def test_crash_between_provider_accept_and_commit_does_not_resend(reachable, provider):
    message = schedule(reachable, Channel.SMS)
    [claimed] = outbox.outbox_claim()
    provider_for(Channel.SMS).send(outbox.outgoing(claimed))  # accepted … and the worker dies here
    later = timezone.now() + outbox.LEASE + timedelta(seconds=1)
    outbox.outbox_expire_leases(now=later)
    message.refresh_from_db()
    assert message.status == MessageStatus.UNKNOWN
    outbox.outbox_reconcile(now=later)
    outbox.outbox_drain(now=later + timedelta(hours=1))
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(provider.bodies_to(reachable.phone)) == 1


def test_crash_before_the_provider_saw_it_is_sent_once_after_reconciling(reachable, provider):
    message = schedule(reachable, Channel.SMS)
    outbox.outbox_claim()  # claimed, then the worker dies before calling the provider
    later = timezone.now() + outbox.LEASE + timedelta(seconds=1)
    outbox.outbox_expire_leases(now=later)
    outbox.outbox_reconcile(now=later)
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    outbox.outbox_dispatch(now=later)
    assert len(provider.bodies_to(reachable.phone)) == 1


def test_provider_unreachable_is_retried(reachable, settings):
    settings.SMS_API_URL = f"http://127.0.0.1:{free_port()}/2010-04-01"
    message = schedule(reachable, Channel.SMS)
    outbox.outbox_dispatch()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 1


def test_delivery_report_marks_delivered(reachable, provider):
    message = schedule(reachable, Channel.SMS)
    outbox.outbox_dispatch()
    message.refresh_from_db()
    services.message_status_callback(channel=Channel.SMS, provider_message_id=message.provider_message_id,
                                     status="delivered")
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert Event.objects.filter(kind="message.delivered", subject_id=message.pk).exists()
    services.message_status_callback(channel=Channel.SMS, provider_message_id=message.provider_message_id,
                                     status="sent")
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_undelivered_21610_report_suppresses(reachable, provider):
    message = schedule(reachable, Channel.SMS)
    outbox.outbox_dispatch()
    message.refresh_from_db()
    services.message_status_callback(channel=Channel.SMS, provider_message_id=message.provider_message_id,
                                     status="undelivered", error_code="21610")
    assert consent.suppression_active(Channel.SMS, reachable.phone) is not None


# --- checks at send time -------------------------------------------------------------------------


def test_opt_out_recorded_after_scheduling_wins_at_send_time(reachable, provider):
    message = schedule(reachable, Channel.SMS, purpose=Purpose.MARKETING)
    # A statement that reached the ledger without passing the service (an import, a race):
    ConsentRecord.objects.create(customer=reachable, channel=Channel.SMS, purpose=Purpose.MARKETING,
                                 granted=False, source=ConsentSource.IMPORT, actor="import")
    stats = outbox.outbox_dispatch()
    message.refresh_from_db()
    assert stats.suppressed == 1 and message.status == MessageStatus.SUPPRESSED
    assert provider.accepted == []


def test_suppression_added_directly_wins_at_send_time(reachable, provider):
    from servicebay.messaging.models import Suppression

    message = schedule(reachable, Channel.SMS)
    Suppression.objects.create(channel=Channel.SMS, address=reachable.phone, reason="manual", actor="x")
    outbox.outbox_dispatch()
    message.refresh_from_db()
    assert message.status == MessageStatus.SUPPRESSED and provider.accepted == []


def _quiet_now_location():
    """A location whose quiet hours (on its Chicago clock) cover the present moment."""
    local = timezone.now().astimezone(ZoneInfo("America/Chicago"))
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    return factories.make_location(quiet_hours_start=start, quiet_hours_end=end)


def test_message_due_in_quiet_hours_is_deferred_to_the_window_end(provider):
    customer = factories.make_customer(home_location=_quiet_now_location())
    message = schedule(customer, Channel.SMS)
    assert message.status == MessageStatus.DEFERRED
    local = message.scheduled_for.astimezone(ZoneInfo("America/Chicago"))
    assert local.time() == customer.home_location.quiet_hours_end
    assert outbox.outbox_dispatch().claimed == 0
    assert outbox.outbox_dispatch(now=message.scheduled_for).sent == 1
    assert provider.accepted[0]["to"] == customer.phone


def test_due_message_inside_quiet_hours_at_send_time_is_deferred_again(provider):
    customer = factories.make_customer(home_location=_quiet_now_location())
    message = schedule(customer, Channel.SMS)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.QUEUED, scheduled_for=timezone.now())
    stats = outbox.outbox_dispatch()
    message.refresh_from_db()
    assert stats.deferred == 1 and message.status == MessageStatus.DEFERRED
    assert provider.accepted == []


def test_quiet_hours_past_expiry_skip_with_a_reason(provider):
    customer = factories.make_customer(home_location=_quiet_now_location())
    message = schedule(customer, Channel.SMS, expires_at=timezone.now() + timedelta(minutes=30))
    assert message.status == MessageStatus.SKIPPED
    assert "after the message expires" in message.skip_reason


def test_expired_message_is_skipped_at_send_time(reachable, provider):
    message = schedule(reachable, Channel.SMS, expires_at=timezone.now() + timedelta(minutes=5))
    outbox.outbox_dispatch(now=timezone.now() + timedelta(minutes=10))
    message.refresh_from_db()
    assert message.status == MessageStatus.SKIPPED and message.skip_reason.startswith("Expired")
    assert provider.accepted == []


def test_marketing_sms_carries_opt_out_text_first_time_and_every_30_days(reachable, provider):
    tpl = template(purpose=Purpose.MARKETING)
    first = schedule(reachable, Channel.SMS, purpose=Purpose.MARKETING, template=tpl)
    outbox.outbox_dispatch()
    second = schedule(reachable, Channel.SMS, purpose=Purpose.MARKETING, template=tpl)
    outbox.outbox_dispatch()
    bodies = provider.bodies_to(reachable.phone)
    assert bodies[0].endswith("Reply STOP to opt out.")
    assert not bodies[1].endswith("Reply STOP to opt out.")
    first.refresh_from_db()
    Message.objects.filter(pk=first.pk).update(sent_at=first.sent_at - timedelta(days=31))
    third = schedule(reachable, Channel.SMS, purpose=Purpose.MARKETING, template=tpl)
    outbox.outbox_dispatch()
    assert provider.bodies_to(reachable.phone)[2].endswith("Reply STOP to opt out.")
    assert second.pk != third.pk


def test_transactional_sms_has_no_opt_out_text(reachable, provider):
    schedule(reachable, Channel.SMS)
    outbox.outbox_dispatch()
    assert provider.bodies_to(reachable.phone) == [f"SMS for {reachable.first_name}"]


def test_whatsapp_outside_the_window_sends_the_approved_template(reachable, provider):
    tpl = template(whatsapp_template_name="HXappointment", whatsapp_params=["{{ customer.first_name }}"],
                   whatsapp_body="Free text for {{ customer.first_name }}")
    schedule(reachable, Channel.WHATSAPP, template=tpl)
    outbox.outbox_dispatch()
    sent = provider.accepted[0]
    assert sent["to"] == f"whatsapp:{reachable.phone}"
    assert sent["content_sid"] == "HXappointment"
    assert json.loads(sent["content_variables"]) == {"1": reachable.first_name}
    assert sent["body"] == ""


def test_whatsapp_free_text_only_inside_the_24_hour_window(reachable, provider):
    tpl = template(whatsapp_body="Free text for {{ customer.first_name }}", sms_body="")
    outside = schedule(reachable, Channel.WHATSAPP, template=tpl)
    assert outside.status == MessageStatus.SKIPPED and "24-hour" in outside.skip_reason
    services.inbound_receive(channel=Channel.WHATSAPP, from_address=f"whatsapp:{reachable.phone}", body="Hi!")
    inside = schedule(reachable, Channel.WHATSAPP, template=tpl)
    outbox.outbox_dispatch()
    inside.refresh_from_db()
    assert inside.status == MessageStatus.SENT
    assert provider.accepted[0]["body"] == f"Free text for {reachable.first_name}"


def test_whatsapp_free_text_queued_in_window_is_skipped_once_the_window_closed(reachable, provider):
    from servicebay.messaging.models import InboundMessage

    services.inbound_receive(channel=Channel.WHATSAPP, from_address=reachable.phone, body="Hi")
    tpl = template(whatsapp_body="Free text", sms_body="")
    message = schedule(reachable, Channel.WHATSAPP, template=tpl)
    InboundMessage.objects.update(received_at=timezone.now() - timedelta(hours=25))
    outbox.outbox_dispatch()
    message.refresh_from_db()
    assert message.status == MessageStatus.SKIPPED and provider.accepted == []


def test_same_idempotency_key_schedules_once(reachable):
    a = schedule(reachable, Channel.SMS, idempotency_key="order-42")
    b = schedule(reachable, Channel.SMS, idempotency_key="order-42")
    assert a.pk == b.pk and Message.objects.count() == 1


def test_channel_falls_back_to_the_next_one_with_consent(open_location):
    customer = factories.make_customer(home_location=open_location, preferred_channel="sms")
    consent.consent_record(customer=customer, channel=Channel.SMS, purpose=Purpose.MARKETING, granted=False,
                           source=ConsentSource.FORM, actor=STAFF)
    consent.consent_record(customer=customer, channel=Channel.EMAIL, purpose=Purpose.MARKETING, granted=True,
                           source=ConsentSource.FORM, actor=STAFF)
    message = services.message_schedule(customer=customer, purpose=Purpose.MARKETING, actor=STAFF,
                                        template=template(purpose="marketing"))
    assert message.channel == Channel.EMAIL and message.status == MessageStatus.QUEUED


def test_no_channel_with_consent_is_skipped_with_every_reason(open_location):
    customer = factories.make_customer(home_location=open_location)
    message = services.message_schedule(customer=customer, purpose=Purpose.MARKETING, actor=STAFF,
                                        template=template(purpose="marketing"))
    assert message.status == MessageStatus.SKIPPED
    assert "Email: no marketing opt-in" in message.skip_reason
    assert "SMS: no marketing opt-in" in message.skip_reason


def test_send_now_enqueues_the_dispatch_task_after_commit(reachable, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send_now(customer=reachable, actor=STAFF, text="Your car is ready, "
                                            "{{ customer.first_name }}", channel=Channel.SMS)
    assert message.body == f"Your car is ready, {reachable.first_name}"
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["args"] == [message.pk]


def test_quiet_hours_defer_send_now_and_say_until_when(provider):
    customer = factories.make_customer(home_location=_quiet_now_location())
    message = services.message_send_now(customer=customer, actor=STAFF, text="Ready", channel=Channel.SMS)
    assert message.status == MessageStatus.DEFERRED
    assert outbox.local_time_label(message).endswith(customer.home_location.quiet_hours_end.strftime("%H:%M"))


def test_default_quiet_hours_are_nine_to_eight():
    location = factories.make_location()
    assert (location.quiet_hours_start, location.quiet_hours_end) == (time(21), time(8))


# --- property: nothing reaches an opted-out or suppressed address --------------------------------

OPERATIONS = st.lists(
    st.sampled_from(["schedule_marketing", "schedule_service", "opt_in", "opt_out", "stop", "start",
                     "suppress", "lift", "dispatch"]),
    min_size=1, max_size=10,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_no_message_reaches_an_opted_out_or_suppressed_number(provider, open_location, operations):
    customer = factories.make_customer(home_location=open_location,
                                       phone=f"+1312555{next(factories._seq) % 10000:04d}")
    tpl = template(purpose=Purpose.MARKETING)
    for op in operations:
        if op in ("schedule_marketing", "schedule_service"):
            purpose = Purpose.MARKETING if op == "schedule_marketing" else Purpose.TRANSACTIONAL
            services.message_schedule(customer=customer, purpose=purpose, actor=STAFF, channel=Channel.SMS,
                                      template=tpl)
        elif op in ("opt_in", "opt_out"):
            try:
                consent.consent_record(customer=customer, channel=Channel.SMS, purpose=Purpose.MARKETING,
                                       granted=op == "opt_in", source=ConsentSource.ADMIN, actor=STAFF)
            except Exception:  # noqa: S112 - a grant over a STOP is refused: that is the rule under test
                continue
        elif op in ("stop", "start"):
            services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body=op.upper())
        elif op == "suppress":
            consent.suppression_add(channel=Channel.SMS, address=customer.phone, reason="manual", actor=STAFF)
        elif op == "lift":
            active = consent.suppression_active(Channel.SMS, customer.phone)
            if active is not None and active.reason == "manual":
                consent.suppression_lift(suppression=active, actor=STAFF)
        else:
            allowed = {p: consent.can_contact(customer, Channel.SMS, p).allowed for p in Purpose.values}
            before = len(provider.bodies_to(customer.phone))
            outbox.outbox_dispatch()
            sent = Message.objects.filter(customer=customer, status=MessageStatus.SENT)
            new = len(provider.bodies_to(customer.phone)) - before
            if new:
                purposes = set(sent.order_by("-sent_at")[:new].values_list("purpose", flat=True))
                assert all(allowed[p] for p in purposes), (operations, allowed, purposes)
