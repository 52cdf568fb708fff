"""The timeline in Chromium: open a customer, expand a visit, see its parts and recommendations,
decline one — no page reload, no script errors, every control labelled."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from servicebay.shop import services as shop_services
from servicebay.shop.choices import JobLineKind
from servicebay.visits import services
from servicebay.visits.choices import RecommendationStatus
from servicebay.visits.models import VisitRecommendation
from tests import factories
from tests.factories import SYSTEM
from tests.visits.factories import add_labor, check_in, complete

PASSWORD = "pw-for-tests-1"

pytestmark = pytest.mark.browser


@pytest.fixture
def history(transactional_db):
    location = factories.make_location(name="Bay Lakeview", time_zone="America/Chicago")
    customer = factories.make_customer(first_name="Marta", last_name="Okafor", home_location=location)
    car = factories.make_vehicle(customer, make="Subaru", model="Outback", plate="MARTA1", odometer=30_000)
    oil = factories.make_template(code="OIL-B", name="Oil change", price=Decimal("59.00"))
    brakes = factories.make_template(code="BRK-B", name="Brake pads (rear)", price=Decimal("210.00"),
                                     interval_months=None, interval_miles=None)
    wipers = factories.make_template(code="WIP-B", name="Wiper blades", price=Decimal("35.00"),
                                     interval_months=None, interval_miles=None)
    filter_part = factories.make_part(sku="OF-5521", name="Oil filter", price=Decimal("11.40"))
    now = timezone.now()
    first = check_in(car, location=location, odometer_in=31_000, check_in_at=now - timedelta(days=120))
    add_labor(first.job_card, "59.00", service_template=oil, description="Oil change")
    complete(first.job_card)
    services.visit_check_out(visit=first, actor=SYSTEM, check_out_at=now - timedelta(days=120, hours=-2))

    visit = check_in(car, location=location, odometer_in=34_600, check_in_at=now - timedelta(days=3))
    add_labor(visit.job_card, "59.00", service_template=oil, description="Oil change")
    shop_services.job_line_add(job_card=visit.job_card, actor=SYSTEM, kind=JobLineKind.PART,
                               part=filter_part, quantity=Decimal("1"))
    pads = services.recommendation_add(visit=visit, service_template=brakes, actor=SYSTEM,
                                       measured_value="pads 3 mm")
    services.recommendation_add(visit=visit, service_template=wipers, actor=SYSTEM)
    complete(visit.job_card)
    visit = services.visit_check_out(visit=visit, actor=SYSTEM)
    factories.make_user("advisor", username="marta-advisor", password=PASSWORD)
    return {"customer": customer, "visit": visit, "pads": pads}


def login(page, live_server) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("marta-advisor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def unlabelled_controls(page) -> list[str]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea'))
            .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.name || el.id)"""
    )


def test_expand_a_visit_see_parts_and_decline_a_recommendation(browser_page, screenshot, live_server, history):
    page = browser_page
    visit, pads = history["visit"], history["pads"]
    login(page, live_server)
    page.goto(f"{live_server.url}/visits/customers/{history['customer'].pk}/timeline/")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Marta Okafor").is_visible()
    whats_next = page.locator(f"#whats-next-{history['customer'].pk}")
    assert "Oil change" in whats_next.inner_text()  # an interval from the earlier oil changes
    entry = page.locator(f"#visit-{visit.pk}")
    assert "2 suggested" in entry.inner_text()
    url_before = page.url

    entry.locator("summary").click()
    parts = entry.locator("table.visit-parts")
    parts.wait_for()
    assert "OF-5521" in parts.inner_text() and "$11.40" in parts.inner_text()
    assert "pads 3 mm" in entry.inner_text()
    assert unlabelled_controls(page) == []
    screenshot(page, "visits-timeline-expanded")

    rec = entry.locator(f"#rec-{pads.pk}")
    rec.get_by_label("Reason").fill("Will do it next month")
    with page.expect_response(lambda r: "/decline/" in r.url):
        rec.get_by_role("button", name="Decline").click()
    entry = page.locator(f"#visit-{visit.pk}")
    entry.locator(f"#rec-{pads.pk} .badge--declined").wait_for()
    assert "1 declined" in entry.locator("summary").inner_text()
    assert "Will do it next month" in entry.locator(f"#rec-{pads.pk}").inner_text()
    assert page.url == url_before
    # "What's next" on the same page follows: the item now stands declined, with its measurement.
    page.locator(f"#open-rec-{pads.pk} .badge--declined").wait_for()
    assert "pads 3 mm" in page.locator(f"#open-rec-{pads.pk}").inner_text()
    screenshot(page, "visits-timeline-declined")
    assert page.console_errors == []
    pads.refresh_from_db()
    assert pads.status == RecommendationStatus.DECLINED
    assert VisitRecommendation.objects.filter(status=RecommendationStatus.SUGGESTED).count() == 1


def test_the_customer_360_timeline_tab_loads_the_panel(browser_page, screenshot, live_server, history):
    page = browser_page
    customer, visit = history["customer"], history["visit"]
    login(page, live_server)
    page.goto(f"{live_server.url}/customer360/{customer.pk}/?tab=timeline")
    page.locator(f"#visits-panel-{customer.pk}").wait_for()
    entry = page.locator(f"#visit-{visit.pk}")
    entry.wait_for()
    entry.locator("summary").click()
    entry.locator("table.visit-parts").wait_for()
    assert "OF-5521" in entry.locator("table.visit-parts").inner_text()
    assert unlabelled_controls(page) == []
    screenshot(page, "visits-customer360-tab")
    assert page.console_errors == []


def test_the_customer_rates_the_visit_from_the_link_without_logging_in(browser_page, screenshot, live_server, history):
    page = browser_page
    visit = history["visit"]
    token = services.satisfaction_link_token(visit=visit)
    page.goto(f"{live_server.url}/visits/rate/{token}/")
    assert page.get_by_role("heading", name="How did we do?").is_visible()
    assert unlabelled_controls(page) == []
    page.get_by_label("4 · Satisfied").check()
    page.get_by_label("Anything we should know?").fill("Quick, but the waiting room was cold.")
    screenshot(page, "visits-survey")
    page.get_by_role("button", name="Send my rating").click()
    assert page.get_by_role("heading", name="Thank you!").is_visible()
    page.goto(f"{live_server.url}/visits/rate/{token}/")
    assert "already been rated" in page.content()
    assert page.console_errors == [] or all("409" in e for e in page.console_errors)
    visit.refresh_from_db()
    assert (visit.satisfaction_score, visit.satisfaction_source) == (4, "customer_link")
