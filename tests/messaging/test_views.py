from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from servicebay.messaging import consent, defaults, services
from servicebay.messaging.choices import Channel, ConsentSource, MessageStatus, Purpose
from servicebay.messaging.models import ConsentRecord, Journey, Message, MessageTemplate
from tests import factories
from tests.messaging.conftest import STAFF

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def marketer_client(client, db):
    client.force_login(factories.make_user("marketing"))
    return client


TEMPLATE_FORM = {"name": "Ready", "code": "ready", "purpose": "transactional", "is_active": "on",
                 "sms_body": "Hi {{ customer.first_name }}, your car is ready."}


def test_overview_lists_journeys_and_templates(marketer_client):
    defaults.install(MessageTemplate, Journey)
    response = marketer_client.get("/messaging/")
    assert response.status_code == 200
    assert b"Post-service follow-up" in response.content and b"Birthday greeting" in response.content


def test_technician_cannot_open_messaging(client, technician):
    client.force_login(technician)
    assert client.get("/messaging/").status_code == 403


def test_template_builder_saves_a_valid_template(marketer_client):
    response = marketer_client.post("/messaging/templates/new/", TEMPLATE_FORM)
    template = MessageTemplate.objects.get(code="ready")
    assert response.status_code == 302 and response.url == f"/messaging/templates/{template.pk}/"


def test_template_builder_shows_unknown_variable_inline(marketer_client):
    response = marketer_client.post("/messaging/templates/new/", {**TEMPLATE_FORM, "sms_body": "Hi {{ customer.nick }}"})
    assert response.status_code == 422
    assert "Unknown variable &#x27;customer.nick&#x27;" in response.content.decode()
    assert not MessageTemplate.objects.filter(code="ready").exists()


def test_advisor_can_view_but_not_save_a_template(advisor_client):
    template = services.message_template_create(actor=STAFF, **{**TEMPLATE_FORM, "is_active": True})
    assert advisor_client.get(f"/messaging/templates/{template.pk}/").status_code == 200
    assert advisor_client.post(f"/messaging/templates/{template.pk}/", TEMPLATE_FORM).status_code == 403


def test_sms_counter_partial_counts_segments(marketer_client):
    response = marketer_client.post("/messaging/templates/sms-count/", {"sms_body": "é" * 161}, **HTMX)
    assert "161 characters · 2 segments · GSM-7" in response.content.decode()
    response = marketer_client.post("/messaging/templates/sms-count/", {"sms_body": "Grüße ✓"}, **HTMX)
    assert "UCS-2 because of “✓”" in response.content.decode()


def test_live_preview_renders_a_chosen_customer(marketer_client, customer):
    response = marketer_client.post("/messaging/templates/preview/",
                                    {**TEMPLATE_FORM, "preview_customer": str(customer.pk)}, **HTMX)
    content = response.content.decode()
    assert f"Hi {customer.first_name}, your car is ready." in content
    assert f'name="preview_customer" value="{customer.pk}"' in content


def test_preview_of_an_invalid_draft_shows_the_error(marketer_client):
    response = marketer_client.post("/messaging/templates/preview/", {**TEMPLATE_FORM, "sms_body": "{{ oops"}, **HTMX)
    assert "Line 1" in response.content.decode()


def test_preview_customer_search(marketer_client, customer):
    response = marketer_client.get(f"/messaging/templates/customers/?preview_q={customer.last_name[:4]}", **HTMX)
    assert customer.full_name in response.content.decode()


def test_switching_a_journey_on_and_off(marketer_client):
    defaults.install(MessageTemplate, Journey)
    journey = Journey.objects.get(code="birthday-greeting")
    marketer_client.post(f"/messaging/journeys/{journey.pk}/active/", {"active": "on"})
    journey.refresh_from_db()
    assert journey.is_active
    marketer_client.post(f"/messaging/journeys/{journey.pk}/active/", {})
    journey.refresh_from_db()
    assert not journey.is_active


def test_journey_page_shows_steps_and_dry_run(marketer_client, location):
    defaults.install(MessageTemplate, Journey)
    journey = Journey.objects.get(code="birthday-greeting")
    page = marketer_client.get(f"/messaging/journeys/{journey.pk}/").content.decode()
    assert "Send “birthday-greeting” (marketing)" in page
    soon = timezone.now().date() + timedelta(days=2)
    factories.make_customer(home_location=location, first_name="Bea", birthday=soon.replace(year=1990))
    dry = marketer_client.get(f"/messaging/journeys/{journey.pk}/dry-run/", **HTMX).content.decode()
    assert "Bea" in dry and "no marketing opt-in" in dry


def test_journey_edit_with_bad_json_is_an_inline_error(marketer_client):
    defaults.install(MessageTemplate, Journey)
    journey = Journey.objects.get(code="birthday-greeting")
    response = marketer_client.post(f"/messaging/journeys/{journey.pk}/", {
        "name": journey.name, "code": journey.code, "holdout_percent": 0, "attribution_days": 14,
        "definition": "{not json"})
    assert response.status_code == 422 and "Not valid JSON" in response.content.decode()


def test_customer_panel_shows_consent_and_history(advisor_client, customer, django_assert_max_num_queries):
    consent.consent_record(customer=customer, channel=Channel.SMS, purpose=Purpose.MARKETING, granted=True,
                           source=ConsentSource.FORM, actor=STAFF)
    for n in range(5):
        services.message_schedule(customer=customer, purpose=Purpose.TRANSACTIONAL, actor=STAFF, text=f"Msg {n}",
                                  channel=Channel.EMAIL)
    with django_assert_max_num_queries(20):
        response = advisor_client.get(f"/messaging/customers/{customer.pk}/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "Opted in" in content and "Msg 4" in content


def test_send_form_in_quiet_hours_says_when_it_will_go(advisor_client):
    local = timezone.now().astimezone(ZoneInfo("America/Chicago"))
    location = factories.make_location(
        quiet_hours_start=(local - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        quiet_hours_end=(local + timedelta(hours=2)).time().replace(second=0, microsecond=0))
    customer = factories.make_customer(home_location=location)
    response = advisor_client.post(f"/messaging/customers/{customer.pk}/send/",
                                   {"text": "Your car is ready", "channel": "sms", "purpose": "transactional"}, **HTMX)
    content = response.content.decode()
    assert response.status_code == 200
    assert "will be sent at" in content
    assert location.quiet_hours_end.strftime("%H:%M") in content
    assert Message.objects.get().status == MessageStatus.DEFERRED


def test_standalone_send_form_swaps_only_itself(advisor_client, reachable):
    response = advisor_client.post(f"/messaging/customers/{reachable.pk}/send/",
                                   {"text": "Hello", "channel": "email", "purpose": "transactional",
                                    "fragment": "send_form"}, **HTMX)
    content = response.content.decode()
    assert content.lstrip().startswith("<form") and "on its way" in content


def test_send_form_without_text_is_an_inline_error(advisor_client, customer):
    response = advisor_client.post(f"/messaging/customers/{customer.pk}/send/", {"purpose": "transactional"}, **HTMX)
    assert response.status_code == 422
    assert "Choose a template or write a message." in response.content.decode()


def test_consent_form_refuses_to_override_a_stop(advisor_client, customer):
    services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body="STOP")
    response = advisor_client.post(f"/messaging/customers/{customer.pk}/consent/",
                                   {"channel": "sms", "purpose": "marketing", "granted": "yes", "source": "admin"},
                                   **HTMX)
    assert response.status_code == 422
    assert "only they can opt back in" in response.content.decode()
    assert not ConsentRecord.objects.filter(granted=True).exists()


def test_preferences_form_stores_channel_order(advisor_client, customer):
    advisor_client.post(f"/messaging/customers/{customer.pk}/preferences/",
                        {"first": "whatsapp", "second": "sms", "third": "email"}, **HTMX)
    customer.refresh_from_db()
    assert consent.channel_order(customer) == ["whatsapp", "sms", "email"]


def test_duplicate_channels_in_preferences_are_an_inline_error(advisor_client, customer):
    response = advisor_client.post(f"/messaging/customers/{customer.pk}/preferences/",
                                   {"first": "sms", "second": "sms", "third": "email"}, **HTMX)
    assert response.status_code == 422 and "List each channel once." in response.content.decode()


def test_outbox_filters_and_cancels(advisor_client, reachable):
    customer = reachable
    message = services.message_schedule(customer=customer, purpose=Purpose.TRANSACTIONAL, actor=STAFF, text="x",
                                        channel=Channel.EMAIL, due_at=timezone.now() + timedelta(days=1))
    page = advisor_client.get("/messaging/outbox/?status=queued")
    assert customer.full_name in page.content.decode()
    advisor_client.post(f"/messaging/outbox/{message.pk}/", {"action": "cancel"})
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED


def test_suppression_page_adds_and_lifts(marketer_client):
    marketer_client.post("/messaging/suppressions/", {"channel": "email", "address": "x@example.com",
                                                      "reason": "manual"})
    suppression = consent.suppression_active(Channel.EMAIL, "x@example.com")
    assert suppression is not None
    marketer_client.post(f"/messaging/suppressions/{suppression.pk}/lift/")
    assert consent.suppression_active(Channel.EMAIL, "x@example.com") is None


def test_customer_360_partials_render_with_just_a_customer(rf, advisor, customer):
    from django.template.loader import render_to_string

    request = rf.get("/")
    request.user = advisor
    html = render_to_string("messaging/partials/customer_panel.html", {"customer": customer}, request=request)
    assert f'id="messaging-panel-{customer.pk}"' in html
    form = render_to_string("messaging/partials/send_form.html", {"customer": customer}, request=request)
    assert 'name="fragment" value="send_form"' in form


def test_selectors_for_customer_360(customer, reachable, provider):
    from servicebay.messaging import outbox, selectors

    badges = selectors.consent_badges(customer_id=reachable.pk)
    assert [b.tone for b in badges] == ["success", "success", "success"]
    assert selectors.last_contacted_at(customer_id=reachable.pk) is None
    services.message_schedule(customer=reachable, purpose=Purpose.TRANSACTIONAL, actor=STAFF, text="x",
                              channel=Channel.SMS)
    outbox.outbox_dispatch()
    assert selectors.last_contacted_at(customer_id=reachable.pk) is not None
    assert len(selectors.message_history(customer_id=reachable.pk)) == 1
    assert selectors.consent_badges(customer_id=customer.pk)[0].summary == "Service messages only"
