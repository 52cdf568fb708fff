"""Marketing builds a segment in Chromium: watch the live count change, save, snapshot, download."""

from __future__ import annotations

import json

import pytest

from tests import factories
from tests.browser.conftest import browser_page, chromium, screenshot  # noqa: F401 - fixtures
from tests.segments.helpers import complete_visit, consent

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"


@pytest.fixture
def audience(transactional_db):
    factories.make_user("marketing", username="mira", password=PASSWORD)
    location = factories.make_location(name="Downtown")
    people = {}
    for name, make, spend in (("Ana", "Toyota", "700.00"), ("Ben", "Toyota", "90.00"),
                              ("Cy", "Honda", "800.00")):
        customer = factories.make_customer(first_name=name, last_name="Lopez", home_location=location,
                                           email=f"{name.lower()}@example.com")
        vehicle = factories.make_vehicle(customer, make=make, model="Any", year=2018)
        complete_visit(vehicle, amount=spend, location=location)
        people[name] = customer
    consent(people["Ana"], "email", "marketing")
    consent(people["Cy"], "email", "marketing")
    return people


def test_marketing_builds_a_segment_and_downloads_its_csv(live_server, browser_page, screenshot,  # noqa: F811
                                                          audience, tmp_path):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{live_server.url}/segments/new/")
    page.get_by_label("Username").fill("mira")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New segment")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Toyota owners")
    editor = page.get_by_label("Filter (JSON)")
    editor.fill(json.dumps({"version": 1, "root": {"field": "vehicle", "make": "Toyota"}}))
    count = page.locator("#preview-count")
    expect(count).to_have_text("2")
    screenshot(page, "segments-01-builder")

    editor.fill(json.dumps({"version": 1, "root": {"all": [
        {"field": "vehicle", "make": "Toyota"},
        {"field": "lifetime_spend", "op": "gte", "value": "500"}]}}))
    expect(count).to_have_text("1")
    expect(page.locator("#segment-preview")).to_contain_text("Ana Lopez")
    editor.fill('{"version": 1, "root": {"field": "visit_count", "op": "gt", "value": "many"}}')
    expect(page.locator("#preview-errors")).to_contain_text("filter.root.value")
    editor.fill(json.dumps({"version": 1, "root": {"field": "lifetime_spend", "op": "gte", "value": "500"}}))
    expect(count).to_have_text("2")
    page.get_by_role("button", name="Save segment").click()

    expect(page.get_by_role("heading", name="Toyota owners")).to_be_visible()
    expect(page.locator("#segment-count")).to_have_text("2")
    page.get_by_role("button", name="Take snapshot").click()
    expect(page.get_by_text("Snapshot taken: 2 members.")).to_be_visible()

    page.get_by_label("Customer id").fill(str(audience["Ben"].pk))
    page.get_by_role("button", name="Explain").click()
    expect(page.locator("#explain-verdict")).to_contain_text("out of")
    screenshot(page, "segments-02-detail")

    form = page.locator("#export-form")
    form.get_by_label("Channel").select_option("email")
    form.get_by_label("Purpose").select_option("marketing")
    form.get_by_label("customer_id").check()
    form.get_by_label("email", exact=True).check()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download").click()
    path = tmp_path / "export.csv"
    download_info.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "customer_id,email"
    assert sorted(lines[1:]) == sorted(f"{c.pk},{c.email}" for c in (audience["Ana"], audience["Cy"]))
    assert page.console_errors == []
