"""The provider's webhooks, called the way Twilio calls them: form-encoded, signed."""

import pytest

from servicebay.messaging import consent, outbox, services
from servicebay.messaging.choices import Channel, MessageStatus, Purpose
from servicebay.messaging.models import InboundMessage
from servicebay.messaging.providers.twilio import twilio_signature
from tests.messaging.conftest import STAFF
from tests.messaging.provider_emulator import TOKEN

pytestmark = pytest.mark.django_db


def signed_post(client, path, params, token=TOKEN):
    signature = twilio_signature(token, f"http://testserver{path}", params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.fixture
def tokens(settings):
    settings.SMS_API_KEY = TOKEN
    settings.WHATSAPP_API_KEY = TOKEN


@pytest.mark.parametrize("word", ["STOP", "stop", "StopAll", "UNSUBSCRIBE", "cancel", "END", "quit", " Stop. "])
def test_stop_words_opt_out_and_suppress(client, tokens, customer, word):
    response = signed_post(client, "/messaging/webhooks/sms/inbound/",
                           {"From": customer.phone, "To": "+13125550100", "Body": word, "MessageSid": "SM1"})
    assert response.status_code == 200
    assert b"unsubscribed" in response.content and b"START" in response.content
    assert response["Content-Type"] == "application/xml"
    assert not consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed


@pytest.mark.parametrize("word", ["START", "unstop", "Yes"])
def test_start_words_opt_back_in(client, tokens, customer, word):
    signed_post(client, "/messaging/webhooks/sms/inbound/", {"From": customer.phone, "Body": "STOP", "MessageSid": "A"})
    signed_post(client, "/messaging/webhooks/sms/inbound/", {"From": customer.phone, "Body": word, "MessageSid": "B"})
    assert consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed


def test_help_gets_the_help_text_and_changes_nothing(client, tokens, customer):
    response = signed_post(client, "/messaging/webhooks/sms/inbound/", {"From": customer.phone, "Body": "HELP"})
    assert b"Reply STOP to opt out" in response.content
    assert consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed


def test_an_ordinary_reply_is_stored_without_an_answer(client, tokens, customer):
    response = signed_post(client, "/messaging/webhooks/sms/inbound/",
                           {"From": customer.phone, "Body": "Please stop by at 5?"})
    assert response.content.endswith(b"<Response></Response>")
    assert InboundMessage.objects.get().keyword == ""
    assert consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed


def test_bad_signature_is_refused_and_changes_nothing(client, tokens, customer):
    response = signed_post(client, "/messaging/webhooks/sms/inbound/", {"From": customer.phone, "Body": "STOP"},
                           token="wrong-token")
    assert response.status_code == 403
    assert consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed
    assert not InboundMessage.objects.exists()


def test_unsigned_request_is_refused_when_no_token_is_configured(client, settings, customer):
    settings.SMS_API_KEY = ""
    response = client.post("/messaging/webhooks/sms/inbound/", {"From": customer.phone, "Body": "STOP"})
    assert response.status_code == 403


def test_webhooks_need_no_login_but_other_pages_do(client, tokens):
    assert client.get("/messaging/").status_code == 302
    assert client.post("/messaging/webhooks/sms/inbound/", {}).status_code == 403


def test_the_same_provider_message_is_handled_once(client, tokens, customer):
    params = {"From": customer.phone, "Body": "STOP", "MessageSid": "SMdup"}
    signed_post(client, "/messaging/webhooks/sms/inbound/", params)
    signed_post(client, "/messaging/webhooks/sms/inbound/", params)
    assert InboundMessage.objects.count() == 1


def test_whatsapp_stop_applies_to_whatsapp_only(client, tokens, customer):
    signed_post(client, "/messaging/webhooks/whatsapp/inbound/",
                {"From": f"whatsapp:{customer.phone}", "Body": "STOP", "MessageSid": "WA1"})
    assert not consent.can_contact(customer, Channel.WHATSAPP, Purpose.TRANSACTIONAL).allowed
    assert consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed


def test_delivery_status_callback_is_recorded(client, tokens, reachable, provider):
    message = services.message_schedule(customer=reachable, purpose=Purpose.TRANSACTIONAL, actor=STAFF,
                                        channel=Channel.SMS, text="Ready")
    outbox.outbox_dispatch()
    message.refresh_from_db()
    response = signed_post(client, "/messaging/webhooks/sms/status/",
                           {"MessageSid": message.provider_message_id, "MessageStatus": "delivered"})
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_unknown_channel_webhook_is_refused(client, tokens):
    assert signed_post(client, "/messaging/webhooks/pigeon/inbound/", {"Body": "STOP"}).status_code == 403
