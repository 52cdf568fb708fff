"""The shop-core JSON API: happy paths, bad input, pagination, docs, and how callers authenticate."""

import json
import re
import secrets
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from servicebay.activity.models import Event
from servicebay.core.models import ApiKey
from servicebay.shop.choices import AppointmentStatus, JobCardStatus
from servicebay.shop.models import Customer, JobCard, Note
from tests import factories

pytestmark = pytest.mark.django_db
API = "/api/v1"


def call(client: Client, method: str, path: str, body=None, **headers):
    """One JSON request; the test client re-raises server errors, so a 500 fails the test."""
    kwargs = {"content_type": "application/json", "headers": headers}
    if body is not None:
        kwargs["data"] = json.dumps(body, default=str)
    return getattr(client, method.lower())(f"{API}{path}", **kwargs)


def error_fields(response) -> set[str]:
    """The field each error points at: the last element of its ``loc``."""
    return {str(error["loc"][-1]) for error in response.json()["detail"]}


@pytest.fixture
def as_role(client):
    def login(role: str) -> Client:
        client.force_login(factories.make_user(role))
        return client
    return login


@pytest.fixture
def api(advisor_client):
    return advisor_client


# --- customers -----------------------------------------------------------------------------------


def test_create_get_update_customer(api, location):
    r = call(api, "POST", "/customers", {"first_name": "Ana", "last_name": "Diaz",
                                         "phone": "312.555.0142", "email": "Ana@Example.com",
                                         "home_location_id": location.pk, "preferred_channel": "sms"})
    assert r.status_code == 201, r.content
    created = r.json()
    assert (created["phone"], created["email"], created["vehicles"]) == (
        "+13125550142", "ana@example.com", [])
    r = call(api, "PATCH", f"/customers/{created['id']}", {"last_name": "Díaz-Ruiz",
                                                           "time_zone": "America/Denver"})
    assert r.status_code == 200, r.content
    r = call(api, "GET", f"/customers/{created['id']}")
    assert (r.json()["last_name"], r.json()["time_zone"], r.json()["home_location_id"]) == (
        "Díaz-Ruiz", "America/Denver", location.pk)


def test_customer_detail_lists_vehicles(api, customer, vehicle):
    r = call(api, "GET", f"/customers/{customer.pk}")
    assert [v["id"] for v in r.json()["vehicles"]] == [vehicle.pk]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"last_name": "Diaz"}, "first_name"),
        ({"first_name": "Ana"}, "last_name"),
        ({"first_name": 5, "last_name": "Diaz"}, "first_name"),
        ({"first_name": "Ana", "last_name": "Diaz", "phone": "555-12"}, "phone"),
        ({"first_name": "Ana", "last_name": "Diaz", "email": "not-an-email"}, "email"),
        ({"first_name": "Ana", "last_name": "Diaz", "birthday": "31/12/1990"}, "birthday"),
        ({"first_name": "Ana", "last_name": "Diaz", "preferred_channel": "fax"}, "preferred_channel"),
        ({"first_name": "Ana", "last_name": "Diaz", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"first_name": "Ana", "last_name": "Diaz", "home_location_id": 987654}, "home_location_id"),
        ({"first_name": "", "last_name": "Diaz"}, "first_name"),
    ],
)
def test_bad_customer_input_is_422_on_the_field(api, body, field):
    r = call(api, "POST", "/customers", body)
    assert r.status_code == 422, r.content
    assert field in error_fields(r)
    assert not Customer.objects.exists()


def test_patch_with_bad_phone_is_422_and_changes_nothing(api, customer):
    r = call(api, "PATCH", f"/customers/{customer.pk}", {"phone": "12", "first_name": "Zed"})
    assert (r.status_code, error_fields(r)) == (422, {"phone"})
    customer.refresh_from_db()
    assert customer.first_name != "Zed"


@pytest.mark.parametrize("path", ["/customers/987654", "/vehicles/987654", "/appointments/987654",
                                  "/job-cards/987654", "/locations/987654",
                                  "/customers/987654/notes", "/customers/987654/vehicles"])
def test_unknown_id_is_404(api, path):
    r = call(api, "GET", path)
    assert (r.status_code, r.json()) == (404, {"detail": "Not found."})


def test_unknown_id_on_write_is_404(api):
    assert call(api, "PATCH", "/customers/987654", {"first_name": "X"}).status_code == 404
    assert call(api, "POST", "/customers/987654/notes", {"body": "x"}).status_code == 404
    assert call(api, "POST", "/job-cards/987654/status", {"status": "closed"}).status_code == 404


def test_out_of_range_id_is_not_a_server_error(api):
    r = call(api, "GET", "/job-cards?customer_id=99999999999999999999")
    assert r.status_code in (200, 422)
    assert call(api, "GET", "/customers/99999999999999999999").status_code == 404


# --- vehicles ------------------------------------------------------------------------------------


def test_add_find_and_update_vehicle(api, customer):
    vin = factories.north_american_vin()
    r = call(api, "POST", f"/customers/{customer.pk}/vehicles",
             {"make": "Ford", "model": "F-150", "year": 2018, "vin": vin.lower(), "plate": "ab-12 cd"})
    assert r.status_code == 201, r.content
    vehicle = r.json()
    assert (vehicle["vin"], vehicle["plate"], vehicle["customer_id"]) == (vin, "AB12CD", customer.pk)
    assert [v["id"] for v in call(api, "GET", "/vehicles?q=ab12").json()["items"]] == [vehicle["id"]]
    assert [v["id"] for v in call(api, "GET", f"/vehicles?q={vin}").json()["items"]] == [vehicle["id"]]
    r = call(api, "PATCH", f"/vehicles/{vehicle['id']}", {"odometer": 61_000})
    assert (r.status_code, r.json()["odometer"]) == (200, 61_000)
    assert call(api, "GET", f"/vehicles/{vehicle['id']}").json()["odometer"] == 61_000
    r = call(api, "GET", f"/customers/{customer.pk}/vehicles")
    assert [v["id"] for v in r.json()["items"]] == [vehicle["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"make": "Ford", "model": "F-150", "year": 2018, "vin": "1FTEW1EP5JFA12345"}, "vin"),
        ({"make": "Ford", "model": "F-150", "year": 2018, "vin": "WVWZZZ1JZXW00000"}, "vin"),
        ({"make": "Ford", "model": "F-150", "year": 1850}, "year"),
        ({"make": "Ford", "model": "F-150", "year": "new"}, "year"),
        ({"make": "Ford", "year": 2018}, "model"),
        ({"make": "Ford", "model": "F-150", "year": 2018, "odometer": -1}, "odometer"),
    ],
)
def test_bad_vehicle_input_is_422_on_the_field(api, customer, body, field):
    r = call(api, "POST", f"/customers/{customer.pk}/vehicles", body)
    assert r.status_code == 422, r.content
    assert field in error_fields(r)


def test_duplicate_vin_is_422_on_vin(api, customer):
    vin = factories.north_american_vin()
    factories.make_vehicle(customer, vin=vin)
    r = call(api, "POST", f"/customers/{customer.pk}/vehicles",
             {"make": "Ford", "model": "F-150", "year": 2018, "vin": vin})
    assert (r.status_code, error_fields(r)) == (422, {"vin"})
    assert r.json()["detail"][0]["msg"] == "Another vehicle already has this VIN."


# --- appointments --------------------------------------------------------------------------------


def _booking(vehicle, location, **kw):
    return {"customer_id": vehicle.customer_id, "vehicle_id": vehicle.pk, "location_id": location.pk,
            "start_at": factories.future(30).isoformat(), **kw}


def test_book_list_and_move_an_appointment(api, vehicle, location):
    oil = factories.make_template()
    r = call(api, "POST", "/appointments", _booking(vehicle, location, service_template_ids=[oil.pk],
                                                    notes="  Rattle at idle "))
    assert r.status_code == 201, r.content
    appointment = r.json()
    assert (appointment["status"], appointment["service_template_ids"], appointment["notes"]) == (
        "booked", [oil.pk], "Rattle at idle")
    r = call(api, "GET", f"/appointments?location_id={location.pk}&customer_id={vehicle.customer_id}")
    assert [a["id"] for a in r.json()["items"]] == [appointment["id"]]
    r = call(api, "POST", f"/appointments/{appointment['id']}/status", {"status": "confirmed"})
    assert (r.status_code, r.json()["status"]) == (200, "confirmed")
    assert call(api, "GET", f"/appointments/{appointment['id']}").json()["status"] == "confirmed"
    kinds = set(Event.objects.filter(subject_type="shop.appointment", subject_id=appointment["id"])
                .values_list("kind", flat=True))
    assert kinds == {"appointment.booked", "appointment.confirmed"}


def test_appointment_filter_by_time_window(api, vehicle, location):
    soon = factories.make_appointment(vehicle=vehicle, location=location, start_at=factories.future(2))
    factories.make_appointment(vehicle=vehicle, location=location, start_at=factories.future(200))
    window = {"start_from": timezone.now().isoformat(), "start_to": factories.future(24).isoformat()}
    r = api.get(f"{API}/appointments", window)
    assert [a["id"] for a in r.json()["items"]] == [soon.pk]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start_at": "2031-05-01T09:00:00"}, "start_at"),
        ({"start_at": "tomorrow"}, "start_at"),
        ({"start_at": (timezone.now() - timedelta(days=1)).isoformat()}, "start_at"),
        ({"customer_id": 987654}, "customer_id"),
        ({"vehicle_id": 987654}, "vehicle_id"),
        ({"location_id": 987654}, "location_id"),
        ({"service_template_ids": [987654]}, "service_template_ids"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"customer_id": "me"}, "customer_id"),
    ],
)
def test_bad_booking_is_422_on_the_field(api, vehicle, location, change, field):
    r = call(api, "POST", "/appointments", _booking(vehicle, location, **change))
    assert r.status_code == 422, r.content
    assert field in error_fields(r)


def test_booking_another_customers_vehicle_is_422_on_vehicle(api, vehicle, location):
    stranger = factories.make_customer()
    r = call(api, "POST", "/appointments", _booking(vehicle, location, customer_id=stranger.pk))
    assert (r.status_code, error_fields(r)) == (422, {"vehicle_id"})


def test_forbidden_appointment_transition_is_409(api, vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    assert call(api, "POST", f"/appointments/{appointment.pk}/status",
                {"status": "cancelled"}).status_code == 200
    r = call(api, "POST", f"/appointments/{appointment.pk}/status", {"status": "confirmed"})
    assert (r.status_code, error_fields(r)) == (409, {"status"})


def test_unknown_appointment_status_is_422(api, vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    r = call(api, "POST", f"/appointments/{appointment.pk}/status", {"status": "late"})
    assert (r.status_code, error_fields(r)) == (422, {"status"})


# --- job cards -----------------------------------------------------------------------------------


def test_job_card_lifecycle_through_the_api(api, vehicle, location):
    part = factories.make_part(price=Decimal("12.50"))
    r = call(api, "POST", "/job-cards", {"location_id": location.pk, "customer_id": vehicle.customer_id,
                                         "vehicle_id": vehicle.pk, "odometer_in": 43_000})
    assert r.status_code == 201, r.content
    card = r.json()
    assert (card["number"], card["status"], card["lines"]) == (1, "open", [])
    base = f"/job-cards/{card['id']}"

    labor = call(api, "POST", f"{base}/lines", {"kind": "labor", "description": "Brake pads",
                                                "quantity": "1.5", "unit_price": "90.00",
                                                "tax_rate": "0.0825"})
    assert labor.status_code == 201, labor.content
    r = call(api, "POST", f"{base}/lines", {"kind": "part", "part_id": part.pk, "quantity": 2})
    assert (r.status_code, r.json()["part_sku"], r.json()["unit_price"]) == (201, part.sku, "12.50")
    discount = call(api, "POST", f"{base}/lines", {"kind": "discount", "description": "Loyal customer",
                                                   "unit_price": "10.00"}).json()
    r = call(api, "PATCH", f"{base}/lines/{labor.json()['id']}", {"quantity": "2"})
    assert (r.status_code, r.json()["quantity"]) == (200, "2.000")
    assert call(api, "DELETE", f"{base}/lines/{discount['id']}").status_code == 204

    for status in ("in_progress", "completed", "closed"):
        r = call(api, "POST", f"{base}/status", {"status": status})
        assert (r.status_code, r.json()["status"]) == (200, status), r.content
    detail = call(api, "GET", base).json()
    # 2 x 90.00 = 180.00 (+ 14.85 tax) and 2 x 12.50 = 25.00.
    assert (detail["subtotal"], detail["discount_total"], detail["tax_total"], detail["total"]) == (
        "205.00", "0.00", "14.85", "219.85")
    assert [line["kind"] for line in detail["lines"]] == ["labor", "part"]
    assert detail["closed_at"] is not None


def test_job_card_from_appointment_checks_it_in(api, vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location)
    r = call(api, "POST", "/job-cards", {"location_id": location.pk, "customer_id": vehicle.customer_id,
                                         "vehicle_id": vehicle.pk, "appointment_id": appointment.pk})
    assert (r.status_code, r.json()["appointment_id"]) == (201, appointment.pk)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CHECKED_IN
    r = call(api, "POST", "/job-cards", {"location_id": location.pk, "customer_id": vehicle.customer_id,
                                         "vehicle_id": vehicle.pk, "appointment_id": appointment.pk})
    assert (r.status_code, error_fields(r)) == (409, {"appointment_id"})


def test_job_card_list_filters_by_status_and_customer(api, vehicle, location):
    open_card = factories.make_job_card(vehicle=vehicle, location=location)
    factories.make_job_card_in(JobCardStatus.CANCELLED, vehicle=vehicle, location=location)
    factories.make_job_card()
    r = call(api, "GET", f"/job-cards?status=open&customer_id={vehicle.customer_id}")
    assert [c["id"] for c in r.json()["items"]] == [open_card.pk]


def test_forbidden_job_card_transition_is_409(api):
    card = factories.make_job_card()
    r = call(api, "POST", f"/job-cards/{card.pk}/status", {"status": "closed"})
    assert (r.status_code, error_fields(r)) == (409, {"status"})
    assert JobCard.objects.get(pk=card.pk).status == JobCardStatus.OPEN


def test_completing_an_empty_card_is_422(api):
    card = factories.make_job_card_in(JobCardStatus.IN_PROGRESS, with_line=False)
    r = call(api, "POST", f"/job-cards/{card.pk}/status", {"status": "completed"})
    assert (r.status_code, error_fields(r)) == (422, {"status"})


def test_lines_of_a_completed_card_are_409(api):
    card = factories.make_job_card_in(JobCardStatus.COMPLETED)
    line = card.lines.get()
    base = f"/job-cards/{card.pk}/lines"
    assert call(api, "POST", base, {"kind": "fee", "unit_price": "5"}).status_code == 409
    assert call(api, "PATCH", f"{base}/{line.pk}", {"quantity": "3"}).status_code == 409
    assert call(api, "DELETE", f"{base}/{line.pk}").status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "labor"}, "unit_price"),
        ({"kind": "part"}, "part_id"),
        ({"kind": "part", "part_id": 987654}, "part_id"),
        ({"kind": "labor", "service_template_id": 987654}, "service_template_id"),
        ({"kind": "gift", "unit_price": "1"}, "kind"),
        ({"kind": "labor", "unit_price": "-1"}, "unit_price"),
        ({"kind": "labor", "unit_price": "1.001"}, "unit_price"),
        ({"kind": "labor", "unit_price": "1", "quantity": "0"}, "quantity"),
        ({"kind": "labor", "unit_price": "1", "tax_rate": "1.5"}, "tax_rate"),
        ({"kind": "discount", "unit_price": "500"}, "unit_price"),
        ({"kind": "labor", "unit_price": "9999999999.99", "quantity": "9999999"}, "quantity"),
    ],
)
def test_bad_line_is_422_on_the_field(api, body, field):
    card = factories.make_job_card()
    r = call(api, "POST", f"/job-cards/{card.pk}/lines", body)
    assert r.status_code == 422, r.content
    assert field in error_fields(r)
    assert not card.lines.exists()


def test_line_of_another_card_is_404(api):
    card, other = factories.make_job_card(), factories.make_job_card()
    line = factories.add_line(other)
    assert call(api, "DELETE", f"/job-cards/{card.pk}/lines/{line.pk}").status_code == 404


def test_line_from_a_service_template_takes_its_name_and_price(api):
    card = factories.make_job_card()
    template = factories.make_template(name="Tyre rotation", price=Decimal("35.00"))
    r = call(api, "POST", f"/job-cards/{card.pk}/lines", {"kind": "labor",
                                                          "service_template_id": template.pk})
    assert (r.status_code, r.json()["description"], r.json()["unit_price"]) == (
        201, "Tyre rotation", "35.00")


# --- notes ---------------------------------------------------------------------------------------


def test_add_list_and_pin_notes(api, customer):
    first = call(api, "POST", f"/customers/{customer.pk}/notes", {"body": "Prefers text messages"})
    second = call(api, "POST", f"/customers/{customer.pk}/notes", {"body": "Fleet account"})
    assert first.status_code == second.status_code == 201
    r = call(api, "PATCH", f"/notes/{first.json()['id']}", {"pinned": True})
    assert (r.status_code, r.json()["pinned"]) == (200, True)
    r = call(api, "GET", f"/customers/{customer.pk}/notes")
    assert [n["id"] for n in r.json()["items"]] == [second.json()["id"], first.json()["id"]]


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   "}, {}, {"body": "x" * 5001}])
def test_empty_or_huge_note_is_422_on_body(api, customer, body):
    r = call(api, "POST", f"/customers/{customer.pk}/notes", body)
    assert (r.status_code, error_fields(r)) == (422, {"body"})
    assert not Note.objects.exists()


# --- catalog and locations -----------------------------------------------------------------------


def test_manager_maintains_service_templates(as_role):
    api = as_role("manager")
    body = {"code": "BRK-F", "name": "Front brakes", "category": "Brakes", "labor_hours": "1.5",
            "price": "189.00", "interval_miles": 30000}
    r = call(api, "POST", "/service-templates", body)
    assert r.status_code == 201, r.content
    template_id = r.json()["id"]
    r = call(api, "PUT", f"/service-templates/{template_id}", {**body, "price": "199.00"})
    assert (r.status_code, r.json()["price"]) == (200, "199.00")
    assert [t["code"] for t in call(api, "GET", "/service-templates").json()["items"]] == ["BRK-F"]
    r = call(api, "POST", "/service-templates", {**body, "name": "Again"})
    assert (r.status_code, error_fields(r)) == (422, {"code"})
    r = call(api, "POST", "/service-templates", {**body, "code": "X", "price": "-5"})
    assert (r.status_code, error_fields(r)) == (422, {"price"})


def test_manager_maintains_parts(as_role):
    api = as_role("manager")
    r = call(api, "POST", "/parts", {"sku": "OF-1", "name": "Oil filter", "price": "9.90"})
    assert r.status_code == 201, r.content
    r = call(api, "PUT", f"/parts/{r.json()['id']}", {"sku": "OF-1", "name": "Oil filter (long)",
                                                      "price": "10.90", "is_active": False})
    assert (r.status_code, r.json()["is_active"]) == (200, False)
    assert [p["sku"] for p in call(api, "GET", "/parts").json()["items"]] == ["OF-1"]
    r = call(api, "POST", "/parts", {"sku": "OF-1", "name": "Clone", "price": "1"})
    assert (r.status_code, error_fields(r)) == (422, {"sku"})


def test_admin_maintains_locations(as_role):
    api = as_role("admin")
    r = call(api, "POST", "/locations", {"name": "Northside", "time_zone": "America/Chicago",
                                         "phone": "(312) 555-0100", "distance_unit": "mi"})
    assert r.status_code == 201, r.content
    location = r.json()
    assert (location["phone"], location["quiet_hours_start"]) == ("+13125550100", "21:00:00")
    r = call(api, "PATCH", f"/locations/{location['id']}", {"time_zone": "America/Denver"})
    assert (r.status_code, r.json()["time_zone"]) == (200, "America/Denver")
    assert call(api, "GET", f"/locations/{location['id']}").json()["name"] == "Northside"
    assert [loc["id"] for loc in call(api, "GET", "/locations").json()["items"]] == [location["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "time_zone": "Central"}, "time_zone"),
        ({"name": "X", "time_zone": "UTC", "currency": "usd"}, "currency"),
        ({"name": "X", "time_zone": "UTC", "phone": "12"}, "phone"),
        ({"time_zone": "UTC"}, "name"),
    ],
)
def test_bad_location_is_422_on_the_field(as_role, body, field):
    r = call(as_role("admin"), "POST", "/locations", body)
    assert r.status_code == 422, r.content
    assert field in error_fields(r)


# --- search --------------------------------------------------------------------------------------


@pytest.fixture
def ana(location):
    customer = factories.make_customer(first_name="Ana", last_name="Diaz", phone="+13125550142",
                                       email="ana.diaz@example.com", home_location=location)
    factories.make_vehicle(customer, plate="KDX-4410", vin="WVWZZZ1JZXW000123")
    factories.make_customer(first_name="Bob", last_name="Anders", phone="+13125550999",
                            email="bob@example.org")
    return customer


@pytest.mark.parametrize(
    "q",
    ["ana", "DIAZ", "ana diaz", "Diaz Ana", "(312) 555-0142", "312-555-0142", "+1 312 555 0142",
     "3125550142", "ana.diaz@example.com", "ANA.DIAZ@", "kdx", "KDX-4410", "kdx 4410",
     "WVWZZZ1JZXW000123", "wvwzzz1jzxw000123"],
)
def test_search_finds_the_customer_by_any_identifier(api, ana, q):
    r = api.get(f"{API}/customers", {"q": q})
    assert [c["id"] for c in r.json()["items"]] == [ana.pk], q


def test_search_without_match_is_empty(api, ana):
    assert call(api, "GET", "/customers?q=zzz").json()["items"] == []


# --- pagination ----------------------------------------------------------------------------------


def _walk(client, path, *, limit, between=None):
    ids, cursor, pages = [], None, 0
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = client.get(f"{API}{path}", params)
        assert r.status_code == 200, r.content
        ids += [item["id"] for item in r.json()["items"]]
        cursor, pages = r.json()["next_cursor"], pages + 1
        if cursor is None:
            return ids, pages
        if between:
            between(pages)


def test_keyset_pagination_walks_every_customer_exactly_once(api):
    names = ["Zhang", "Abbott", "Miller", "Miller", "Miller", "lee", "Ortiz", "Baker", "Young", "Cruz"]
    expected = {factories.make_customer(last_name=name, first_name=f"F{i}").pk
                for i, name in enumerate(names)}
    ids, pages = _walk(api, "/customers", limit=3)
    assert pages == 4
    assert len(ids) == len(set(ids)) == 10
    assert set(ids) == expected


def test_pagination_survives_rows_inserted_between_pages(api):
    original = {factories.make_customer(last_name=f"M{i:02d}").pk for i in range(9)}
    added = []

    def insert(page):
        # one row sorting before the cursor (already passed), one after it (still to come)
        added.append(factories.make_customer(last_name="A-early").pk)
        added.append(factories.make_customer(last_name="Z-late").pk)

    ids, _ = _walk(api, "/customers", limit=4, between=insert)
    assert len(ids) == len(set(ids))
    assert original <= set(ids)
    assert set(ids) - original <= set(added)


def test_job_card_pages_do_not_repeat_when_new_cards_open(api):
    vehicle, location = factories.make_vehicle(), factories.make_location()
    original = {factories.make_job_card(vehicle=vehicle, location=location).pk for _ in range(7)}
    ids, pages = _walk(api, "/job-cards", limit=3, between=lambda page: factories.make_job_card(
        vehicle=vehicle, location=location))
    assert pages == 3
    assert len(ids) == len(set(ids))
    assert set(ids) == original  # newer cards sort before the cursor


def test_bad_cursor_is_422_on_the_cursor_parameter(api):
    r = call(api, "GET", "/customers?cursor=not-a-cursor")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_cursor_of_another_list_is_422(api):
    for _ in range(3):
        factories.make_part()
    cursor = call(api, "GET", "/parts?limit=1").json()["next_cursor"]
    r = api.get(f"{API}/customers", {"cursor": cursor})
    assert (r.status_code, error_fields(r)) == (422, {"cursor"})


def test_page_size_is_bounded(api):
    r = call(api, "GET", "/customers?limit=1000")
    assert (r.status_code, error_fields(r)) == (422, {"limit"})


# --- OpenAPI and docs ----------------------------------------------------------------------------


def test_openapi_schema_lists_the_shop_endpoints(api):
    r = call(api, "GET", "/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/api/v1/customers", "/api/v1/job-cards/{job_card_id}/status", "/api/v1/locations"):
        assert path in paths


def test_docs_page_uses_only_local_assets(api):
    r = api.get(f"{API}/docs")
    html = r.content.decode()
    assert r.status_code == 200
    assert "cdn" not in html.lower()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for url in assets:
        assert url.startswith("/"), url
        if url.startswith("/static/"):
            assert api.get(url).status_code == 200, url
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]


def test_docs_need_a_signed_in_user():
    r = Client().get(f"{API}/docs")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login/")


# --- authentication ------------------------------------------------------------------------------


def test_anonymous_request_is_401():
    assert call(Client(), "GET", "/customers").status_code == 401


def test_bearer_key_authenticates_and_is_recorded_as_the_actor():
    key, plaintext = factories.make_api_key("write")
    client = Client(enforce_csrf_checks=True)
    r = call(client, "POST", "/customers", {"first_name": "Ida", "last_name": "Key"},
             Authorization=f"Bearer {plaintext}")
    assert r.status_code == 201, r.content
    event = Event.objects.get(kind="customer.created", customer_id=r.json()["id"])
    assert (event.actor, event.actor_user_id) == (f"apikey:{key.prefix}", None)
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize("mangle", ["revoked", "wrong_secret", "unknown_prefix", "not_a_key"])
def test_bad_or_revoked_key_is_401(mangle):
    from servicebay.core.services import api_key_revoke

    key, plaintext = factories.make_api_key("write")
    token = {
        "revoked": plaintext,
        "wrong_secret": plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB"),
        "unknown_prefix": f"sb_00000000_{plaintext.split('_', 2)[2]}",
        "not_a_key": "hello",
    }[mangle]
    if mangle == "revoked":
        api_key_revoke(key=key)
    assert call(Client(), "GET", "/customers", Authorization=f"Bearer {token}").status_code == 401


def test_read_key_can_read_but_not_write():
    _, plaintext = factories.make_api_key("read")
    auth = {"Authorization": f"Bearer {plaintext}"}
    assert call(Client(), "GET", "/customers", **auth).status_code == 200
    r = call(Client(), "POST", "/customers", {"first_name": "No", "last_name": "Write"}, **auth)
    assert r.status_code == 403
    assert not Customer.objects.exists()


def test_catalog_key_writes_the_catalog_only():
    _, plaintext = factories.make_api_key("catalog")
    auth = {"Authorization": f"Bearer {plaintext}"}
    assert call(Client(), "POST", "/parts", {"sku": "K-1", "name": "Bulb", "price": "3"},
                **auth).status_code == 201
    assert call(Client(), "POST", "/customers", {"first_name": "A", "last_name": "B"},
                **auth).status_code == 403


def test_key_is_stored_only_as_a_hash():
    key, plaintext = factories.make_api_key("read")
    secret = plaintext.split("_", 2)[2]
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert all(secret not in str(value) for value in row.values())
    assert row["key_hash"] != plaintext and len(row["key_hash"]) == 64


def test_session_writes_need_the_csrf_token(advisor):
    client = Client(enforce_csrf_checks=True)
    client.force_login(advisor)
    body = {"first_name": "Csrf", "last_name": "Check"}
    assert call(client, "GET", "/customers").status_code == 200
    assert call(client, "POST", "/customers", body).status_code == 403
    assert not Customer.objects.exists()
    token = secrets.token_hex(16)
    client.cookies["csrftoken"] = token
    assert call(client, "POST", "/customers", body, **{"X-CSRFToken": token}).status_code == 201


def test_user_without_a_role_is_403(client):
    client.force_login(factories.make_user(None))
    assert call(client, "GET", "/customers").status_code == 403


def test_inactive_user_is_401(client):
    user = factories.make_user("advisor")
    client.force_login(user)
    user.is_active = False
    user.save()
    assert call(client, "GET", "/customers").status_code == 401

