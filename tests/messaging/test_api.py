import json

import pytest

from servicebay.messaging import defaults, services
from servicebay.messaging.models import Journey, MessageTemplate
from tests import factories
from tests.messaging.conftest import STAFF

pytestmark = pytest.mark.django_db


def post(client, url, data, **headers):
    return client.post(url, json.dumps(data), content_type="application/json", **headers)


@pytest.fixture
def marketer_client(client, db):
    client.force_login(factories.make_user("marketing"))
    return client


def test_consent_state_lists_every_channel_and_purpose(advisor_client, customer):
    response = advisor_client.get(f"/api/v1/customers/{customer.pk}/consent")
    assert response.status_code == 200
    body = response.json()
    assert [c["channel"] for c in body["channels"]] == ["email", "sms", "whatsapp"]
    email = body["channels"][0]
    assert email["transactional"]["allowed"] is True
    assert email["marketing"] == {**email["marketing"], "allowed": False, "label": "No consent"}


def test_advisor_records_consent_and_the_event_names_them(advisor_client, customer, advisor):
    response = post(advisor_client, f"/api/v1/customers/{customer.pk}/consent",
                    {"channel": "sms", "purpose": "marketing", "granted": True, "source": "form"})
    assert response.status_code == 201, response.content
    assert response.json()["actor"] == f"user:{advisor.pk}"
    history = advisor_client.get(f"/api/v1/customers/{customer.pk}/consent/history").json()
    assert history["items"][0]["granted"] is True


def test_staff_cannot_record_a_stop_keyword_source(advisor_client, customer):
    response = post(advisor_client, f"/api/v1/customers/{customer.pk}/consent",
                    {"channel": "sms", "purpose": "marketing", "granted": True, "source": "start_keyword"})
    assert response.status_code == 422


def test_regrant_after_stop_is_a_422_on_granted(advisor_client, customer):
    services.inbound_receive(channel="sms", from_address=customer.phone, body="STOP")
    response = post(advisor_client, f"/api/v1/customers/{customer.pk}/consent",
                    {"channel": "sms", "purpose": "transactional", "granted": True})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "granted"]


def test_technician_may_not_read_consent(client, technician, customer):
    client.force_login(technician)
    assert client.get(f"/api/v1/customers/{customer.pk}/consent").status_code == 403


def test_unknown_customer_is_404(advisor_client):
    assert advisor_client.get("/api/v1/customers/999999/consent").status_code == 404


def test_template_with_unknown_variable_is_a_field_error(marketer_client):
    response = post(marketer_client, "/api/v1/message-templates",
                    {"code": "x", "name": "X", "sms_body": "Hi {{ customer.nickname }}"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sms_body"]
    assert "customer.nickname" in response.json()["detail"][0]["msg"]


def test_advisor_may_not_manage_templates(advisor_client):
    response = post(advisor_client, "/api/v1/message-templates", {"code": "x", "name": "X", "sms_body": "Hi"})
    assert response.status_code == 403


def test_template_preview_for_a_customer(marketer_client, customer):
    created = post(marketer_client, "/api/v1/message-templates",
                   {"code": "hi", "name": "Hi", "sms_body": "Hi {{ customer.first_name }}"}).json()
    response = post(marketer_client, f"/api/v1/message-templates/{created['id']}/preview", {"customer_id": customer.pk})
    assert response.json() == [{"channel": "sms", "ok": True, "error": "", "subject": "", "body": f"Hi {customer.first_name}",
                                "body_html": "", "provider_template": "", "provider_params": []}]


def test_sms_size_endpoint(advisor_client):
    body = post(advisor_client, "/api/v1/messaging/sms-size", {"text": "Grüße 😀"}).json()
    assert (body["encoding"], body["segments"]) == ("UCS-2", 1)


def test_journey_lifecycle_over_the_api(marketer_client, customer):
    defaults.install(MessageTemplate, Journey)
    definition = {"trigger": {"type": "birthday", "send_at": "09:30"},
                  "steps": [{"type": "send", "template": "birthday-greeting", "purpose": "marketing"}]}
    created = post(marketer_client, "/api/v1/journeys", {"code": "bday2", "name": "Birthday 2",
                                                         "definition": definition})
    assert created.status_code == 201, created.content
    journey_id = created.json()["id"]
    assert created.json()["is_active"] is False
    assert post(marketer_client, f"/api/v1/journeys/{journey_id}/activate", {}).json()["is_active"] is True
    assert marketer_client.get(f"/api/v1/journeys/{journey_id}/dry-run?days=3").status_code == 200
    attribution = marketer_client.get(f"/api/v1/journeys/{journey_id}/attribution").json()
    assert attribution["treated"]["customers"] == 0


def test_invalid_journey_definition_is_a_422(marketer_client):
    response = post(marketer_client, "/api/v1/journeys", {"code": "bad", "name": "Bad", "definition": {
        "trigger": {"type": "event", "event": "visit.checked_out"}, "steps": []}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "definition"]


def test_send_with_the_same_idempotency_key_returns_the_same_message(advisor_client, customer):
    first = post(advisor_client, f"/api/v1/customers/{customer.pk}/messages",
                 {"text": "Your car is ready", "channel": "email"}, HTTP_IDEMPOTENCY_KEY="abc")
    second = post(advisor_client, f"/api/v1/customers/{customer.pk}/messages",
                  {"text": "Your car is ready", "channel": "email"}, HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["scheduled_for_local"]


def test_send_without_template_or_text_is_a_422(advisor_client, customer):
    response = post(advisor_client, f"/api/v1/customers/{customer.pk}/messages", {"channel": "sms"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "text"]


def test_api_key_with_messaging_scope_can_send_but_read_scope_cannot(client, customer):
    _, token = factories.make_api_key("messaging")
    ok = post(client, f"/api/v1/customers/{customer.pk}/messages", {"text": "Hi"}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert ok.status_code == 201
    _, read_token = factories.make_api_key("read")
    denied = post(client, f"/api/v1/customers/{customer.pk}/messages", {"text": "Hi"},
                  HTTP_AUTHORIZATION=f"Bearer {read_token}")
    assert denied.status_code == 403


def test_suppressions_add_list_and_lift(marketer_client):
    added = post(marketer_client, "/api/v1/suppressions", {"channel": "email", "address": "Bob@Example.com",
                                                            "reason": "bounce"})
    assert added.status_code == 201 and added.json()["address"] == "bob@example.com"
    assert marketer_client.get("/api/v1/suppressions?q=bob").json()["items"][0]["reason"] == "bounce"
    lifted = post(marketer_client, f"/api/v1/suppressions/{added.json()['id']}/lift", {})
    assert lifted.json()["lifted_at"] is not None


def test_opt_out_suppression_cannot_be_lifted_over_the_api(marketer_client, customer):
    services.inbound_receive(channel="sms", from_address=customer.phone, body="STOP")
    suppression = marketer_client.get("/api/v1/suppressions").json()["items"][0]
    assert post(marketer_client, f"/api/v1/suppressions/{suppression['id']}/lift", {}).status_code == 422


def test_message_list_filters_by_customer(advisor_client, customer):
    services.message_send_now(customer=customer, actor=STAFF, text="One", channel="email")
    items = advisor_client.get(f"/api/v1/messages?customer_id={customer.pk}").json()["items"]
    assert [m["body"] for m in items] == ["One"]


def test_patching_a_journey_with_nulls_changes_nothing_but_quiet_hours(marketer_client):
    defaults.install(MessageTemplate, Journey)
    journey = Journey.objects.get(code="birthday-greeting")
    response = marketer_client.patch(f"/api/v1/journeys/{journey.pk}", json.dumps(
        {"holdout_percent": None, "name": None, "quiet_hours_start": "20:00:00", "quiet_hours_end": "09:00:00"}),
        content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == journey.name and response.json()["quiet_hours_start"] == "20:00:00"
    cleared = marketer_client.patch(f"/api/v1/journeys/{journey.pk}", json.dumps(
        {"quiet_hours_start": None, "quiet_hours_end": None}), content_type="application/json")
    assert cleared.json()["quiet_hours_start"] is None
    one_end = marketer_client.patch(f"/api/v1/journeys/{journey.pk}", json.dumps({"quiet_hours_start": "20:00:00"}),
                                    content_type="application/json")
    assert one_end.status_code == 422
