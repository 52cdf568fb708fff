"""A manager reads the warehouse status page in Chromium after a sync."""

from __future__ import annotations

import pytest

from servicebay.warehouse.services import warehouse_sync
from tests import factories
from tests.browser.conftest import browser_page, chromium, screenshot  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"


def test_manager_sees_runs_and_rows_per_table(live_server, browser_page, screenshot, warehouse,  # noqa: F811
                                              transactional_db):
    from playwright.sync_api import expect

    factories.make_user("manager", username="max", password=PASSWORD)
    for _ in range(3):
        factories.make_vehicle(factories.make_customer())
    warehouse_sync(triggered_by="test", tables=["customers", "vehicles"])
    page = browser_page
    page.goto(f"{live_server.url}/warehouse/")
    page.get_by_label("Username").fill("max")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Warehouse sync")).to_be_visible()
    expect(page.locator("#warehouse-runs")).to_contain_text("Succeeded")
    expect(page.locator("#warehouse-tables tr", has_text="customers")).to_contain_text("3")
    screenshot(page, "warehouse-01-status")
    assert page.console_errors == []
