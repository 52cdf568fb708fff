"""In Chromium: an advisor redeems points on a job card and sees the discount and the ledger row;
a manager edits a program's rules and watches the live preview."""

from __future__ import annotations

import json

import pytest

from servicebay.loyalty.services import points_adjust
from tests import factories

from .conftest import ACCRUAL, SYSTEM, card_with_lines, make_program

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"


def sign_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def member(transactional_db):
    factories.make_user("advisor", username="ada", password=PASSWORD)
    program = make_program(name="Bay Rewards")
    customer = factories.make_customer(first_name="Rosa", last_name="Diaz")
    points_adjust(customer=customer, program=program, points=1500, reason="Welcome bonus", actor=SYSTEM)
    return customer


def test_advisor_redeems_points_and_sees_the_discount_and_the_ledger_row(live_server, browser_page,
                                                                         screenshot, member):
    from playwright.sync_api import expect

    page = browser_page
    card = card_with_lines(member, ("labor", "120.00"))
    sign_in(page, f"{live_server.url}/loyalty/job-cards/{card.pk}/", "ada")
    expect(page.get_by_test_id("redeem-available")).to_have_text("1,500 points")
    screenshot(page, "loyalty-01-redeem-form")

    page.get_by_label("Points to use").fill("700")
    page.get_by_role("button", name="Redeem points").click()

    discount = page.locator('[data-testid="job-line"][data-kind="discount"]')
    expect(discount).to_contain_text("Loyalty reward: 700 points")
    expect(discount).to_contain_text("$7.00")
    expect(page.get_by_test_id("job-card-total")).to_have_text("$113.00")
    expect(page.get_by_test_id("redeem-available")).to_have_text("800 points")
    expect(page.get_by_test_id("redemption")).to_contain_text("-700 points → $7.00 off")
    screenshot(page, "loyalty-02-redeemed")

    page.get_by_role("link", name="Rosa Diaz").first.click()
    expect(page.get_by_test_id("loyalty-balance")).to_have_text("800")
    row = page.locator('[data-testid="ledger-row"][data-type="redeem"]')
    expect(row).to_contain_text("-700")
    row.get_by_text("Why -700?").click()
    expect(row.get_by_test_id("explanation")).to_contain_text("Redeemed 700 points for a $7.00 discount")
    screenshot(page, "loyalty-03-ledger")
    assert page.console_errors == []


def test_redeeming_more_than_available_shows_the_error_inline(live_server, browser_page, member):
    from playwright.sync_api import expect

    page = browser_page
    card = card_with_lines(member, ("labor", "120.00"))
    sign_in(page, f"{live_server.url}/loyalty/job-cards/{card.pk}/", "ada")
    page.get_by_label("Points to use").fill("1600")
    page.get_by_role("button", name="Redeem points").click()
    expect(page.locator("#loyalty-redeem")).to_contain_text("Only 1,500 points are available.")
    expect(page.locator('[data-testid="job-line"][data-kind="discount"]')).to_have_count(0)
    assert page.console_errors == []


def test_manager_sees_the_live_preview_and_inline_rule_errors(live_server, browser_page, screenshot,
                                                              transactional_db):
    from playwright.sync_api import expect

    factories.make_user("manager", username="max", password=PASSWORD)
    page = browser_page
    sign_in(page, f"{live_server.url}/loyalty/programs/new/", "max")
    preview = page.locator("#rule-preview")
    expect(preview).to_contain_text("This invoice would earn 165 points")  # $120 labor + $45 parts

    page.get_by_label("Accrual rule (JSON)").fill(json.dumps({**ACCRUAL, "points_per_unit": "2"}))
    expect(preview).to_contain_text("This invoice would earn 330 points")
    page.get_by_label("Accrual rule (JSON)").fill(json.dumps({**ACCRUAL, "points_per_unit": "-1"}))
    expect(preview).to_contain_text("accrual_rule.points_per_unit")
    screenshot(page, "loyalty-04-editor-preview")

    page.get_by_label("Name", exact=True).fill("Bay Rewards")
    page.get_by_role("button", name="Create program").click()
    expect(page.locator(".field--invalid")).to_contain_text(
        "points_per_unit: Input should be greater than or equal to 0")
    assert page.console_errors == []
