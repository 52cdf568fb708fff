"""The visits API: the flow end to end, bad input as 4xx with field paths, permissions."""

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from servicebay.core.services import api_key_create
from servicebay.visits.models import CustomerVisit, VisitRecommendation
from tests import factories
from tests.factories import future
from tests.visits.factories import add_labor, check_in, complete, finished_visit
from tests.visits.test_timeline import make_history

pytestmark = pytest.mark.django_db


def post(client, url, body=None, **extra):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **extra)


def locs(response) -> list:
    return [tuple(item["loc"]) for item in response.json()["detail"]]


def test_walk_in_to_rating_through_the_api(advisor_client, vehicle, location, template):
    r = post(advisor_client, "/api/v1/visits", {"customer_id": vehicle.customer_id,
             "vehicle_id": vehicle.pk, "location_id": location.pk, "odometer_in": 43_210})
    assert r.status_code == 201, r.content
    visit = r.json()
    assert visit["visit_type"] == "walk_in"
    assert visit["job_card"]["status"] == "open"
    assert visit["odometer_in"] == 43_210
    vid = visit["id"]

    r = post(advisor_client, f"/api/v1/visits/{vid}/recommendations",
             {"service_template_id": template.pk, "measured_value": "pads 3 mm"})
    assert r.status_code == 201, r.content
    rec_id = r.json()["id"]
    assert r.json()["service_code"] == "BRAKE-F"
    r = post(advisor_client, f"/api/v1/recommendations/{rec_id}/accept")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "accepted" and r.json()["job_line_id"]

    part = factories.make_part(sku="PAD-F-01", name="Front pads", price="64.00")
    card = CustomerVisit.objects.get(pk=vid).job_card
    r = post(advisor_client, f"/api/v1/job-cards/{card.pk}/lines",
             {"kind": "part", "part_id": part.pk, "quantity": "2"})
    assert r.status_code == 201, r.content
    complete(card)

    r = post(advisor_client, f"/api/v1/visits/{vid}/check-out")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["check_out_at"] is not None
    assert body["total_spend"] == body["job_card"]["total"]
    parts = [line for line in body["job_card"]["lines"] if line["kind"] == "part"]
    assert [(p["part_sku"], p["quantity"], p["unit_price"]) for p in parts] == [("PAD-F-01", "2.000", "64.00")]
    assert [rec["status"] for rec in body["recommendations"]] == ["accepted"]

    r = post(advisor_client, f"/api/v1/visits/{vid}/satisfaction", {"score": 5, "comment": "Great"})
    assert r.status_code == 200, r.content
    assert r.json()["satisfaction_score"] == 5


def test_check_in_from_an_appointment(advisor_client, vehicle, location):
    from servicebay.shop.services import appointment_book
    from tests.factories import SYSTEM

    appointment = appointment_book(actor=SYSTEM, customer=vehicle.customer, vehicle=vehicle,
                                   location=location, start_at=future(3))
    r = post(advisor_client, "/api/v1/visits", {"appointment_id": appointment.pk})
    assert r.status_code == 201, r.content
    assert r.json()["visit_type"] == "scheduled"
    assert r.json()["appointment_id"] == appointment.pk


def test_timeline_endpoint_pages_and_filters(advisor_client, customer, location):
    car, visits = make_history(customer, location, 5)
    url = f"/api/v1/customers/{customer.pk}/timeline"
    r = advisor_client.get(url, {"limit": 3})
    assert r.status_code == 200, r.content
    first = r.json()
    assert [i["id"] for i in first["items"]] == [v.pk for v in reversed(visits)][:3]
    assert first["items"][0]["recommendations"] == {"suggested": 0, "accepted": 0, "declined": 0}
    r = advisor_client.get(url, {"limit": 3, "cursor": first["next_cursor"]})
    assert [i["id"] for i in r.json()["items"]] == [visits[1].pk, visits[0].pk]
    assert r.json()["next_cursor"] is None
    r = advisor_client.get(url, {"vehicle_id": car.pk, "visit_type": "scheduled"})
    assert r.json()["items"] == []
    newest_day = timezone.localtime(visits[-1].check_in_at, ZoneInfo(customer.effective_time_zone)).date()
    r = advisor_client.get(url, {"date_from": newest_day.isoformat()})
    assert [i["id"] for i in r.json()["items"]] == [visits[-1].pk]


def test_timeline_endpoint_query_count_is_flat(advisor_client, location):
    small, large = factories.make_customer(home_location=location), factories.make_customer(home_location=location)
    make_history(small, location, 2)
    make_history(large, location, 25)
    counts = []
    for customer in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            assert advisor_client.get(f"/api/v1/customers/{customer.pk}/timeline").status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"visit_type": "drive_by"}, ("query", "visit_type")),
        ({"date_from": "yesterday"}, ("query", "date_from")),
        ({"date_from": "2025-05-02", "date_to": "2025-05-01"}, ("query", "date_to")),
        ({"limit": 0}, ("query", "limit")),
        ({"cursor": "not-a-cursor"}, ("query", "cursor")),
    ],
)
def test_timeline_bad_filters_are_422_with_the_field(advisor_client, customer, params, loc):
    r = advisor_client.get(f"/api/v1/customers/{customer.pk}/timeline", params)
    assert r.status_code == 422, r.content
    assert loc in locs(r)


def test_timeline_of_another_customers_vehicle_is_422(advisor_client, customer):
    stranger = factories.make_vehicle()
    r = advisor_client.get(f"/api/v1/customers/{customer.pk}/timeline", {"vehicle_id": stranger.pk})
    assert r.status_code == 422
    assert ("query", "vehicle_id") in locs(r)


def test_unknown_ids_are_404(advisor_client):
    assert advisor_client.get("/api/v1/customers/999999/timeline").status_code == 404
    assert advisor_client.get("/api/v1/visits/999999").status_code == 404
    assert post(advisor_client, "/api/v1/recommendations/999999/accept").status_code == 404


def test_check_in_with_unknown_vehicle_names_the_field(advisor_client, location):
    r = post(advisor_client, "/api/v1/visits", {"vehicle_id": 999999, "location_id": location.pk})
    assert r.status_code == 422
    assert ("body", "vehicle_id") in locs(r)


def test_check_in_with_negative_odometer_is_422(advisor_client, vehicle, location):
    r = post(advisor_client, "/api/v1/visits", {"vehicle_id": vehicle.pk, "location_id": location.pk,
                                                "odometer_in": -5})
    assert r.status_code == 422
    assert ("body", "payload", "odometer_in") in locs(r)


def test_check_out_before_completion_is_409_and_changes_nothing(advisor_client, vehicle, location):
    visit = check_in(vehicle, location=location)
    add_labor(visit.job_card)
    r = post(advisor_client, f"/api/v1/visits/{visit.pk}/check-out")
    assert r.status_code == 409
    assert "complete it" in r.json()["detail"][0]["msg"]
    visit.refresh_from_db()
    assert visit.check_out_at is None


def test_checking_out_twice_is_409(advisor_client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    r = post(advisor_client, f"/api/v1/visits/{visit.pk}/check-out")
    assert r.status_code == 409
    assert ("body", "check_out_at") in locs(r)


def test_naive_check_out_time_is_422(advisor_client, vehicle, location):
    visit = check_in(vehicle, location=location)
    complete(visit.job_card)
    r = post(advisor_client, f"/api/v1/visits/{visit.pk}/check-out", {"check_out_at": "2025-01-01T10:00:00"})
    assert r.status_code == 422
    assert ("body", "payload", "check_out_at") in locs(r)


@pytest.mark.parametrize("score", [0, 6, "great", None])
def test_score_out_of_range_is_422_with_the_field(advisor_client, vehicle, location, score):
    visit = finished_visit(vehicle, location=location)
    r = post(advisor_client, f"/api/v1/visits/{visit.pk}/satisfaction", {"score": score})
    assert r.status_code == 422
    assert ("body", "payload", "score") in locs(r)
    visit.refresh_from_db()
    assert visit.satisfaction_score is None


def test_rating_twice_is_409(advisor_client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    assert post(advisor_client, f"/api/v1/visits/{visit.pk}/satisfaction", {"score": 4}).status_code == 200
    r = post(advisor_client, f"/api/v1/visits/{visit.pk}/satisfaction", {"score": 1})
    assert r.status_code == 409


def test_accepting_an_accepted_recommendation_is_409_and_adds_no_work(advisor_client, vehicle, location, template):
    visit = check_in(vehicle, location=location)
    r = post(advisor_client, f"/api/v1/visits/{visit.pk}/recommendations", {"service_template_id": template.pk})
    rec_id = r.json()["id"]
    assert post(advisor_client, f"/api/v1/recommendations/{rec_id}/accept").status_code == 200
    r = post(advisor_client, f"/api/v1/recommendations/{rec_id}/accept")
    assert r.status_code == 409
    assert "already accepted" in r.json()["detail"][0]["msg"]
    assert visit.job_card.lines.count() == 1


def test_accept_without_open_card_asks_for_a_time(advisor_client, vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec_id = post(advisor_client, f"/api/v1/visits/{visit.pk}/recommendations",
                  {"service_template_id": template.pk}).json()["id"]
    complete(visit.job_card)
    r = post(advisor_client, f"/api/v1/recommendations/{rec_id}/accept")
    assert r.status_code == 422
    assert ("body", "start_at") in locs(r)
    start = (timezone.now() + timedelta(days=3)).isoformat()
    r = post(advisor_client, f"/api/v1/recommendations/{rec_id}/accept", {"start_at": start})
    assert r.status_code == 200, r.content
    assert r.json()["appointment_id"]


def test_decline_then_whats_next_lists_it(advisor_client, vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec_id = post(advisor_client, f"/api/v1/visits/{visit.pk}/recommendations",
                  {"service_template_id": template.pk, "measured_value": "pads 3 mm"}).json()["id"]
    r = post(advisor_client, f"/api/v1/recommendations/{rec_id}/decline", {"reason": "Price"})
    assert r.status_code == 200 and r.json()["status"] == "declined"
    r = advisor_client.get(f"/api/v1/customers/{vehicle.customer_id}/whats-next")
    assert r.status_code == 200, r.content
    [item] = r.json()["open_recommendations"]
    assert item["recommendation"]["measured_value"] == "pads 3 mm"


def test_estimated_price_with_too_many_decimals_is_422(advisor_client, vehicle, location, template):
    visit = check_in(vehicle, location=location)
    r = post(advisor_client, f"/api/v1/visits/{visit.pk}/recommendations",
             {"service_template_id": template.pk, "estimated_price": "10.001"})
    assert r.status_code == 422
    assert ("body", "payload", "estimated_price") in locs(r)
    assert not VisitRecommendation.objects.exists()


def test_kpis_endpoint(advisor_client, vehicle, location):
    finished_visit(vehicle, location=location)
    r = advisor_client.get(f"/api/v1/customers/{vehicle.customer_id}/visit-kpis")
    assert r.status_code == 200, r.content
    assert r.json()["total_visits"] == 1
    assert r.json()["lifetime_spend"] == "100.00"


def test_satisfaction_link_endpoint_gives_a_public_url(advisor_client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    r = post(advisor_client, f"/api/v1/visits/{visit.pk}/satisfaction-link")
    assert r.status_code == 200, r.content
    assert r.json()["url"].startswith("http://testserver/visits/rate/")


# --- permissions -------------------------------------------------------------------------------


def test_anonymous_is_401(client, customer):
    assert client.get(f"/api/v1/customers/{customer.pk}/timeline").status_code == 401


def test_technician_may_recommend_but_not_check_out(technician_client, vehicle, location, template):
    visit = check_in(vehicle, location=location)
    r = post(technician_client, f"/api/v1/visits/{visit.pk}/recommendations", {"service_template_id": template.pk})
    assert r.status_code == 201, r.content
    complete(visit.job_card)
    assert post(technician_client, f"/api/v1/visits/{visit.pk}/check-out").status_code == 403
    assert post(technician_client, f"/api/v1/recommendations/{r.json()['id']}/decline").status_code == 403


def test_marketing_may_read_but_not_write(client, vehicle, location, template):
    client.force_login(factories.make_user("marketing"))
    visit = check_in(vehicle, location=location)
    assert client.get(f"/api/v1/visits/{visit.pk}").status_code == 200
    r = post(client, f"/api/v1/visits/{visit.pk}/recommendations", {"service_template_id": template.pk})
    assert r.status_code == 403
    r = post(client, "/api/v1/visits", {"vehicle_id": vehicle.pk, "location_id": location.pk})
    assert r.status_code == 403


def test_api_keys_follow_their_scopes(client, vehicle, location):
    _, read_key = api_key_create(name="bi", scopes=["read"])
    _, write_key = api_key_create(name="dms", scopes=["write"])
    visit = finished_visit(vehicle, location=location)
    url = f"/api/v1/visits/{visit.pk}/satisfaction"
    assert client.get(f"/api/v1/visits/{visit.pk}", HTTP_AUTHORIZATION=f"Bearer {read_key}").status_code == 200
    assert post(client, url, {"score": 3}, HTTP_AUTHORIZATION=f"Bearer {read_key}").status_code == 403
    r = post(client, url, {"score": 3}, HTTP_AUTHORIZATION=f"Bearer {write_key}")
    assert r.status_code == 200, r.content


@pytest.mark.parametrize("params", [{"date_from": "0001-01-01"}, {"date_to": "9999-12-31"},
                                    {"date_from": "0001-01-01", "date_to": "9999-12-31"}])
def test_calendar_edge_dates_do_not_break_the_timeline(advisor_client, customer, location, params):
    finished_visit(factories.make_vehicle(customer), location=location)
    r = advisor_client.get(f"/api/v1/customers/{customer.pk}/timeline", params)
    assert r.status_code == 200, r.content
    assert len(r.json()["items"]) == 1


def test_a_far_future_booking_is_422(advisor_client, vehicle, location, template):
    visit = check_in(vehicle, location=location)
    rec_id = post(advisor_client, f"/api/v1/visits/{visit.pk}/recommendations",
                  {"service_template_id": template.pk}).json()["id"]
    r = post(advisor_client, f"/api/v1/recommendations/{rec_id}/accept",
             {"start_at": "9999-12-31T23:59:00-12:00"})
    assert r.status_code == 422
    assert ("body", "start_at") in locs(r)
