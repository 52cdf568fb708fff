"""The timeline screens: page, htmx fragments, drill-down, actions, the public survey link."""

import re
import time
from datetime import datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import signing
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from servicebay.shop import services as shop_services
from servicebay.shop.choices import JobLineKind
from servicebay.visits import services
from servicebay.visits.choices import SATISFACTION_LINK_MAX_AGE, RecommendationStatus
from servicebay.visits.models import CustomerVisit, VisitRecommendation
from tests import factories
from tests.factories import SYSTEM
from tests.visits.factories import add_labor, check_in, complete, finished_visit
from tests.visits.test_timeline import make_history

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def timeline_url(customer) -> str:
    return f"/visits/customers/{customer.pk}/timeline/"


@pytest.fixture
def worked_visit(vehicle, location, template):
    """An open visit with labor, two pads, a discount, notes and one suggested recommendation."""
    visit = check_in(vehicle, location=location, odometer_in=48_250)
    card = visit.job_card
    add_labor(card, "90.00", description="Replace front brake pads")
    part = factories.make_part(sku="PAD-F-01", name="Front pads", price="64.00")
    shop_services.job_line_add(job_card=card, actor=SYSTEM, kind=JobLineKind.PART, part=part,
                               quantity=Decimal("2"))
    shop_services.job_line_add(job_card=card, actor=SYSTEM, kind=JobLineKind.DISCOUNT,
                               description="Loyalty redemption", unit_price=Decimal("10.00"))
    type(card).objects.filter(pk=card.pk).update(technician_notes="Rotors at minimum thickness.")
    rec = services.recommendation_add(visit=visit, service_template=template, actor=SYSTEM,
                                      measured_value="rotors 22 mm")
    return visit, rec


def test_the_page_shows_entries_and_whats_next(advisor_client, worked_visit):
    visit, _ = worked_visit
    r = advisor_client.get(timeline_url(visit.customer))
    assert r.status_code == 200
    html = r.content.decode()
    assert "What&#x27;s next" in html or "What's next" in html
    assert f'id="visit-{visit.pk}"' in html
    assert "1 suggested" in html
    assert "48,250 mi" in html
    assert "Brake pads (front)" in html  # open recommendation in What's next


def test_login_is_required(client, customer):
    r = client.get(timeline_url(customer))
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_a_user_without_a_role_is_refused(client, customer):
    client.force_login(factories.make_user(None))
    assert client.get(timeline_url(customer)).status_code == 403


def test_unknown_customer_is_404(advisor_client):
    assert advisor_client.get("/visits/customers/999999/timeline/").status_code == 404


def _page_queries(client, customer) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(timeline_url(customer)).status_code == 200
    return len(ctx.captured_queries)


def test_the_page_query_count_does_not_grow_with_history(advisor_client, location, template):
    small, large = factories.make_customer(home_location=location), factories.make_customer(home_location=location)
    make_history(small, location, 2, template=template)
    make_history(large, location, 30, template=template)
    _page_queries(advisor_client, small)  # warm the session and role caches alike
    assert _page_queries(advisor_client, small) == _page_queries(advisor_client, large)


def test_infinite_scroll_loads_the_next_page(advisor_client, customer, location):
    _, visits = make_history(customer, location, 25)
    html = advisor_client.get(timeline_url(customer)).content.decode()
    assert html.count('class="visit-entry"') == 20
    next_url = re.search(r'hx-get="([^"]*cursor=[^"]*)"', html).group(1).replace("&amp;", "&")
    r = advisor_client.get(next_url, **HTMX)
    assert r.status_code == 200
    ids = [int(i) for i in re.findall(r'id="visit-(\d+)"', r.content.decode())]
    assert ids == [v.pk for v in reversed(visits)][20:]
    assert "cursor=" not in r.content.decode()


def test_filters_answer_the_section_and_push_no_fragment(advisor_client, customer, location):
    car, visits = make_history(customer, location, 3)
    other = factories.make_vehicle(customer, odometer=0)
    finished_visit(other, location=location)
    r = advisor_client.get(timeline_url(customer), {"fragment": "entries", "vehicle": car.pk}, **HTMX)
    assert r.status_code == 200
    ids = [int(i) for i in re.findall(r'id="visit-(\d+)"', r.content.decode())]
    assert ids == [v.pk for v in reversed(visits)]
    assert r.content.decode().lstrip().startswith("<section")
    assert r["HX-Push-Url"] == f"{timeline_url(customer)}?vehicle={car.pk}"


def test_a_backwards_date_range_is_an_inline_error(advisor_client, customer):
    r = advisor_client.get(timeline_url(customer), {"fragment": "entries", "date_from": "2025-05-02",
                                                    "date_to": "2025-05-01"}, **HTMX)
    assert r.status_code == 422
    assert "The last day cannot be before the first day." in r.content.decode()


def test_a_tampered_cursor_is_a_clear_message(advisor_client, customer):
    r = advisor_client.get(timeline_url(customer), {"fragment": "entries", "cursor": "junk"}, **HTMX)
    assert r.status_code == 422
    assert "cursor is not valid" in r.content.decode()


def test_expanding_shows_labor_parts_totals_notes_and_recommendations(advisor_client, worked_visit):
    visit, rec = worked_visit
    r = advisor_client.get(f"/visits/{visit.pk}/", **HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert "Replace front brake pads" in html
    parts = re.search(r'<table class="table table--compact visit-parts">.*?</table>', html, re.S).group(0)
    assert "PAD-F-01" in parts and ">2<" in parts and "$64.00" in parts and "$128.00" in parts
    assert "Loyalty redemption" in html and "\u2212$10.00" in html
    assert "$208.00" in html  # 90 + 128 - 10
    assert "Rotors at minimum thickness." in html
    assert "rotors 22 mm" in html
    assert f'action="/visits/recommendations/{rec.pk}/accept/"' in html


def test_the_visit_page_without_htmx_is_a_full_page(advisor_client, worked_visit):
    visit, _ = worked_visit
    r = advisor_client.get(f"/visits/{visit.pk}/")
    assert r.status_code == 200
    assert "<html" in r.content.decode() and "PAD-F-01" in r.content.decode()


def test_accepting_from_the_entry_adds_the_work_and_redraws_it(advisor_client, worked_visit):
    visit, rec = worked_visit
    r = advisor_client.post(f"/visits/recommendations/{rec.pk}/accept/", {"from": "entry"}, **HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert html.lstrip().startswith(f'<details class="visit-entry" id="visit-{visit.pk}" open')
    assert "1 accepted" in html
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.ACCEPTED and rec.job_line.job_card_id == visit.job_card_id


def test_accepting_with_a_local_time_books_in_the_locations_zone(advisor_client, worked_visit):
    visit, rec = worked_visit
    complete(visit.job_card)
    day = (timezone.now() + timedelta(days=30)).date()
    r = advisor_client.post(f"/visits/recommendations/{rec.pk}/accept/",
                            {"from": "entry", "start_at": f"{day.isoformat()}T09:30"}, **HTMX)
    assert r.status_code == 200, r.content
    rec.refresh_from_db()
    expected = datetime.combine(day, clock(9, 30), tzinfo=ZoneInfo("America/Chicago"))
    assert rec.appointment.start_at == expected


def test_a_refused_accept_shows_why_inline(advisor_client, worked_visit):
    visit, rec = worked_visit
    complete(visit.job_card)
    r = advisor_client.post(f"/visits/recommendations/{rec.pk}/accept/", {"from": "entry"}, **HTMX)
    assert r.status_code == 422
    assert "give a date and time" in r.content.decode()
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.SUGGESTED


def test_declining_from_whats_next_redraws_whats_next(advisor_client, worked_visit):
    visit, rec = worked_visit
    r = advisor_client.post(f"/visits/recommendations/{rec.pk}/decline/",
                            {"from": "whats_next", "reason": "Next month"}, **HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert html.lstrip().startswith("<section") and f'id="whats-next-{visit.customer_id}"' in html
    assert "declined" in html and "rotors 22 mm" in html
    rec.refresh_from_db()
    assert (rec.status, rec.decline_reason) == (RecommendationStatus.DECLINED, "Next month")


def test_a_plain_post_redirects_back_to_the_visit(advisor_client, worked_visit):
    visit, rec = worked_visit
    r = advisor_client.post(f"/visits/recommendations/{rec.pk}/decline/", {"from": "entry"})
    assert r.status_code == 302 and r["Location"] == f"/visits/{visit.pk}/"


def test_a_technician_recommends_but_cannot_decide(technician_client, worked_visit, oil_change):
    visit, rec = worked_visit
    r = technician_client.post(f"/visits/{visit.pk}/recommendations/",
                               {"service_template": oil_change.pk, "measured_value": "oil dark"}, **HTMX)
    assert r.status_code == 200
    assert VisitRecommendation.objects.filter(visit=visit, service_template=oil_change).exists()
    assert technician_client.post(f"/visits/recommendations/{rec.pk}/accept/", **HTMX).status_code == 403


def test_a_recommendation_without_a_service_is_an_inline_error(advisor_client, worked_visit):
    visit, _ = worked_visit
    r = advisor_client.post(f"/visits/{visit.pk}/recommendations/", {"measured_value": "x"}, **HTMX)
    assert r.status_code == 422
    assert "This field is required." in r.content.decode()


def test_check_out_and_rate_from_the_entry(advisor_client, worked_visit):
    visit, _ = worked_visit
    r = advisor_client.post(f"/visits/{visit.pk}/check-out/", **HTMX)
    assert r.status_code == 422
    assert "complete it before checking out" in r.content.decode()
    complete(visit.job_card)
    assert advisor_client.post(f"/visits/{visit.pk}/check-out/", **HTMX).status_code == 200
    r = advisor_client.post(f"/visits/{visit.pk}/satisfaction/", {"score": "9"}, **HTMX)
    assert r.status_code == 422
    assert "Select a valid choice" in r.content.decode()
    r = advisor_client.post(f"/visits/{visit.pk}/satisfaction/", {"score": "4", "comment": "Fast"}, **HTMX)
    assert r.status_code == 200 and "4/5" in r.content.decode()
    visit.refresh_from_db()
    assert visit.satisfaction_score == 4


def test_check_in_page_creates_a_walk_in(advisor_client, vehicle, location):
    url = f"/visits/customers/{vehicle.customer_id}/check-in/"
    assert advisor_client.get(url).status_code == 200
    r = advisor_client.post(url, {"vehicle": vehicle.pk, "location": location.pk, "odometer_in": "50000"})
    assert r.status_code == 302
    visit = CustomerVisit.objects.get()
    assert r["Location"] == f"{timeline_url(vehicle.customer)}#visit-{visit.pk}"
    r = advisor_client.post(url, {"vehicle": vehicle.pk, "location": location.pk})
    assert r.status_code == 422
    assert "still checked in" in r.content.decode()


def test_the_panel_loads_itself_for_customer_360(rf, customer):
    html = render_to_string("visits/partials/timeline_panel.html", {"customer": customer})
    assert f'hx-get="/visits/customers/{customer.pk}/timeline/?fragment=body&amp;panel=1"' in html


def test_the_panel_body_fragment(advisor_client, worked_visit):
    visit, _ = worked_visit
    r = advisor_client.get(timeline_url(visit.customer), {"fragment": "body", "panel": "1"}, **HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert "<html" not in html and f'id="visit-{visit.pk}"' in html
    assert "Open the full timeline" in html


# --- the customer's survey, without logging in -------------------------------------------------


def _survey_url(token: str) -> str:
    return f"/visits/rate/{token}/"


def test_the_customer_rates_through_the_link_without_logging_in(client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    url = _survey_url(services.satisfaction_link_token(visit=visit))
    r = client.get(url)
    assert r.status_code == 200
    assert "How did we do?" in r.content.decode()
    r = client.post(url, {"score": "5", "comment": "Lovely"})
    assert r.status_code == 200 and "Thank you" in r.content.decode()
    visit.refresh_from_db()
    assert (visit.satisfaction_score, visit.satisfaction_source) == (5, "customer_link")


def test_a_second_use_of_the_link_is_refused(client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    url = _survey_url(services.satisfaction_link_token(visit=visit))
    client.post(url, {"score": "5"})
    r = client.post(url, {"score": "1"})
    assert r.status_code == 409
    assert "already been rated" in r.content.decode()
    visit.refresh_from_db()
    assert visit.satisfaction_score == 5


def test_a_tampered_link_gets_a_clear_page_not_an_error(client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    token = services.satisfaction_link_token(visit=visit)
    r = client.get(_survey_url(token.replace(":", ":x", 1)))
    assert r.status_code == 400
    assert "not valid" in r.content.decode()


def test_an_expired_link_gets_a_clear_page(client, vehicle, location):
    visit = finished_visit(vehicle, location=location)

    class Then(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time() - SATISFACTION_LINK_MAX_AGE.total_seconds() - 60))

    token = Then(salt=services.SATISFACTION_LINK_SALT).sign_object({"v": visit.pk}, compress=True)
    r = client.post(_survey_url(token), {"score": "5"})
    assert r.status_code == 410
    assert "expired" in r.content.decode()
    visit.refresh_from_db()
    assert visit.satisfaction_score is None


def test_a_score_outside_the_scale_is_an_inline_error(client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    r = client.post(_survey_url(services.satisfaction_link_token(visit=visit)), {"score": "7"})
    assert r.status_code == 422
    assert "Select a valid choice" in r.content.decode()


def test_a_change_in_the_entry_tells_whats_next_to_refresh(advisor_client, worked_visit):
    visit, rec = worked_visit
    r = advisor_client.post(f"/visits/recommendations/{rec.pk}/decline/", {"from": "entry"}, **HTMX)
    assert "whats-next-changed" in r["HX-Trigger-After-Settle"]
    r = advisor_client.get(timeline_url(visit.customer), {"fragment": "whats_next"}, **HTMX)
    assert r.status_code == 200 and "Declined" in r.content.decode()


def test_a_change_in_whats_next_tells_the_entry_to_refresh(advisor_client, worked_visit):
    visit, rec = worked_visit
    r = advisor_client.post(f"/visits/recommendations/{rec.pk}/decline/", {"from": "whats_next"}, **HTMX)
    assert f"visit-changed-{visit.pk}" in r["HX-Trigger-After-Settle"]
    r = advisor_client.get(f"/visits/{visit.pk}/", {"fragment": "counts"}, **HTMX)
    assert r.status_code == 200 and "1 declined" in r.content.decode()
