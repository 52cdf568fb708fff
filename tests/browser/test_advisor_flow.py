"""An advisor's walk-in, end to end in Chromium: sign in, find the customer, open a job card,
add labor and a part (htmx, with an inline error on the way), start and complete the work."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests import factories
from tests.browser.conftest import TABLET

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"


@pytest.fixture
def shop(transactional_db):
    location = factories.make_location(name="Bay Downtown", time_zone="America/Chicago")
    advisor = factories.make_user("advisor", username="avery", password=PASSWORD)
    customer = factories.make_customer(first_name="Rosa", last_name="Alvarez", home_location=location,
                                       phone="+13125550199", email="rosa@example.com")
    factories.make_vehicle(customer, make="Toyota", model="Camry", year=2019, plate="ROSA01")
    part = factories.make_part(sku="BP-778F", name="Brake pads, front set", price=Decimal("64.00"))
    return {"location": location, "advisor": advisor, "customer": customer, "part": part}


def test_advisor_runs_a_walk_in_from_search_to_completed_job_card(live_server, browser_page, screenshot, shop):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    screenshot(page, "advisor-01-login")
    page.get_by_label("Username").fill("avery")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    screenshot(page, "advisor-02-today")

    page.get_by_label("Search customers").fill("alvarez")
    page.keyboard.press("Enter")
    results = page.locator("#customer-results")
    expect(results).to_contain_text("Alvarez, Rosa")
    expect(results).to_contain_text("ROSA01")
    # The live search (htmx) narrows the same list while typing.
    page.locator("#customer-q").fill("rosa@exa")
    expect(results).to_contain_text("Alvarez, Rosa")
    screenshot(page, "advisor-03-search")
    results.get_by_role("link", name="Alvarez, Rosa").click()

    expect(page.get_by_role("heading", name="Rosa Alvarez")).to_be_visible()
    screenshot(page, "advisor-04-customer")
    page.get_by_role("link", name="Open walk-in job card").click()
    expect(page.get_by_label("Vehicle")).to_contain_text("2019 Toyota Camry")
    page.get_by_label("Odometer at check-in").fill("48210")
    page.get_by_role("button", name="Open job card").click()

    lines = page.locator("#job-lines")
    status = page.locator("#job-card-status")
    expect(status).to_have_text("Open")
    expect(lines).to_contain_text("No lines yet")

    form = page.locator("form.line-form")
    form.get_by_label("Type").select_option("labor")
    form.get_by_label("Description").fill("Replace front brake pads")
    form.get_by_label("Qty / hours").fill("1.5")
    form.get_by_label("Unit price").fill("120")
    form.get_by_role("button", name="Add line").click()
    expect(lines).to_contain_text("Replace front brake pads")
    expect(page.locator("#job-card-total")).to_have_text("$180.00")

    # A part line without its part is refused inline, on the field, without leaving the page.
    form = page.locator("form.line-form")
    form.get_by_label("Type").select_option("part")
    form.get_by_role("button", name="Add line").click()
    expect(lines).to_contain_text("Choose the part for a part line.")
    screenshot(page, "advisor-05-inline-error")

    form = page.locator("form.line-form")
    form.get_by_label("Part").select_option(str(shop["part"].pk))
    form.get_by_label("Qty / hours").fill("1")
    form.get_by_role("button", name="Add line").click()
    expect(lines).to_contain_text("BP-778F")
    expect(lines).not_to_contain_text("Choose the part")
    expect(page.locator("#job-card-total")).to_have_text("$244.00")

    page.get_by_role("button", name="Start work").click()
    expect(status).to_have_text("In progress")
    page.get_by_role("button", name="Mark complete").click()
    expect(status).to_have_text("Completed")
    expect(page.locator("#job-card-total")).to_have_text("$244.00")
    expect(page.locator("#toasts")).to_contain_text("is now completed")
    # A completed card's lines are frozen: no add form, no remove buttons.
    expect(page.locator("form.line-form")).to_have_count(0)
    expect(lines.get_by_role("button", name="Remove")).to_have_count(0)
    screenshot(page, "advisor-06-completed")

    page.set_viewport_size(TABLET)
    screenshot(page, "advisor-07-completed-tablet")
    assert page.console_errors == []
