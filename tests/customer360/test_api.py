from decimal import Decimal

from django.test import Client

from servicebay.shop import services
from tests import factories
from tests.factories import SYSTEM

from .helpers import done_card


def test_360_answers_kpis_spend_by_month_and_next_best_actions(advisor_client, customer, vehicle, location):
    done_card(vehicle, location, "99.50")
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    body = advisor_client.get(f"/api/v1/customers/{customer.pk}/360").json()
    assert body["customer"]["id"] == customer.pk
    assert body["customer"]["time_zone"] == "America/Chicago"
    assert [v["id"] for v in body["customer"]["vehicles"]] == [vehicle.pk]
    kpis = body["kpis"]
    assert (kpis["currency"], kpis["total_visits"]) == ("USD", 1)
    assert Decimal(kpis["lifetime_spend"]) == Decimal("99.50")
    assert kpis["next_appointment"]["id"] == appointment.pk
    assert len(body["spend_by_month"]) == 24
    assert Decimal(body["spend_by_month"][-1]["spend"]) == Decimal("99.50")
    assert body["visits"]["open_recommendations"] == 0
    assert [c["channel"] for c in body["messaging"]["consent"]] == ["email", "sms", "whatsapp"]
    keys = [nba["key"] for nba in body["next_best_actions"]]
    assert keys[-1] == "preferred_channel"


def test_360_of_an_unknown_customer_is_404(advisor_client):
    assert advisor_client.get("/api/v1/customers/999999/360").status_code == 404


def test_360_needs_credentials(customer):
    assert Client().get(f"/api/v1/customers/{customer.pk}/360").status_code == 401


def test_an_api_key_with_the_read_scope_reads_the_360_and_the_feed(customer):
    _, token = factories.make_api_key("read")
    auth = {"Authorization": f"Bearer {token}"}
    assert Client().get(f"/api/v1/customers/{customer.pk}/360", headers=auth).status_code == 200
    assert Client().get(f"/api/v1/customers/{customer.pk}/activity", headers=auth).status_code == 200


def test_an_api_key_without_the_read_scope_is_refused(customer):
    _, token = factories.make_api_key("export")
    response = Client().get(f"/api/v1/customers/{customer.pk}/360", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_activity_pages_newest_first_with_a_cursor(advisor_client, customer):
    for i in range(5):
        services.note_add(customer=customer, actor=SYSTEM, body=f"n{i}")
    first = advisor_client.get(f"/api/v1/customers/{customer.pk}/activity?limit=4").json()
    assert [item["detail"] for item in first["items"]] == ["n4", "n3", "n2", "n1"]
    assert first["items"][0]["title"] == "Note" and first["items"][0]["family"] == "note"
    rest = advisor_client.get(
        f"/api/v1/customers/{customer.pk}/activity", {"limit": 4, "cursor": first["next_cursor"]}
    ).json()
    assert [item["kind"] for item in rest["items"]] == ["note.added", "customer.created"]
    assert rest["next_cursor"] is None


def test_activity_filters_by_kind(advisor_client, customer, vehicle, location):
    done_card(vehicle, location)
    services.note_add(customer=customer, actor=SYSTEM, body="hello")
    body = advisor_client.get(
        f"/api/v1/customers/{customer.pk}/activity?kind=note&kind=jobcard.completed"
    ).json()
    assert [item["kind"] for item in body["items"]] == ["note.added", "jobcard.completed"]


def test_an_unknown_kind_is_a_422_on_the_query(advisor_client, customer):
    response = advisor_client.get(f"/api/v1/customers/{customer.pk}/activity?kind=DROP TABLE")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "kind"]


def test_a_forged_cursor_is_a_422(advisor_client, customer):
    response = advisor_client.get(f"/api/v1/customers/{customer.pk}/activity?cursor=abc")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_activity_of_an_unknown_customer_is_404(advisor_client):
    assert advisor_client.get("/api/v1/customers/999999/activity").status_code == 404
