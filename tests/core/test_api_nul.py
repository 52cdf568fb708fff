"""A NUL character in any API text is a 422 naming the field, on SQLite and PostgreSQL alike
(PostgreSQL cannot store it; SQLite would store it silently)."""

import pytest

from servicebay.shop.models import Customer
from tests import factories


@pytest.fixture
def api_client(client, db):
    client.force_login(factories.make_user("admin"))
    return client


def test_nul_in_a_body_field_is_a_422_on_that_field_and_nothing_is_stored(api_client, location):
    before = Customer.objects.count()
    response = api_client.post("/api/v1/customers", {
        "first_name": "Ann\x00", "last_name": "Lee", "home_location_id": location.pk,
        "email": "ann@example.com",
    }, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "first_name"], "msg": "Text may not contain the NUL character (\\u0000).",
         "type": "string_nul"}]
    assert Customer.objects.count() == before


def test_nul_nested_in_a_list_names_its_path(api_client):
    response = api_client.post("/api/v1/segments/preview", {"filter": {"all": [
        {"field": "vehicle_make", "op": "eq", "value": "Sko\x00da"}]}}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "filter", "all", 0, "value"]


def test_nul_in_a_query_parameter_is_a_422(api_client):
    response = api_client.get("/api/v1/customers", {"q": "a\x00b"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "q"]


def test_a_body_that_is_not_json_is_still_a_400(api_client):
    response = api_client.post("/api/v1/customers", "{not json", content_type="application/json")
    assert response.status_code == 400
