"""The job line's part picker in Chromium: an advisor types part of a part number, reaches the match
with Tab, chooses it with Enter and adds the line; the card's total follows. No script errors, no
CSP violations, and the page never carries the catalogue."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from servicebay.shop.models import Part
from tests import factories

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"


@pytest.fixture
def shop(transactional_db):
    location = factories.make_location(name="Bay Downtown", time_zone="America/Chicago")
    factories.make_user("advisor", username="avery", password=PASSWORD)
    card = factories.make_job_card(location=location)
    factories.add_line(card, unit_price=Decimal("100.00"))
    part = factories.make_part(sku="BP-778F", name="Brake pads, front set", price=Decimal("64.00"))
    factories.make_part(sku="BP-779R", name="Brake pads, rear set", price=Decimal("58.00"))
    Part.objects.bulk_create(
        Part(sku=f"ZZ-{n:05d}", name=f"Filler item {n}", price=Decimal("1.00")) for n in range(300)
    )
    return {"card": card, "part": part}


def test_advisor_finds_a_part_by_number_and_adds_it_with_the_keyboard(live_server, browser_page, screenshot, shop):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{live_server.url}/login/?next=/job-cards/{shop['card'].pk}/")
    page.get_by_label("Username").fill("avery")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    total = page.locator("#job-card-total")
    expect(total).to_have_text("$100.00")
    assert "ZZ-00001" not in page.content()

    search = page.get_by_role("searchbox", name=re.compile(r"^Part"))
    search.focus()
    search.press_sequentially("bp-77", delay=30)
    results = page.locator("#part-results")
    expect(results.get_by_role("button")).to_have_count(2)
    expect(results).to_contain_text("Brake pads, front set")
    expect(results).to_contain_text("$64.00")
    screenshot(page, "part-picker-01-results")

    # Tab passes the Find button (the search without JavaScript) and lands on the first match.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    first = results.get_by_role("button").first
    expect(first).to_be_focused()
    expect(first).to_contain_text("BP-778F")
    page.keyboard.press("Enter")

    chosen = page.locator("#part-chosen")
    expect(chosen).to_contain_text("Chosen: BP-778F Brake pads, front set · $64.00")
    expect(chosen).to_be_focused()
    expect(page.locator("#id_part")).to_have_value(str(shop["part"].pk))
    form = page.locator("form.line-form")
    expect(form.get_by_label("Type")).to_have_value("part")
    expect(form.get_by_label("Description")).to_have_attribute("placeholder", "Brake pads, front set")
    expect(form.get_by_label("Unit price")).to_have_attribute("placeholder", "64.00")
    screenshot(page, "part-picker-02-chosen")

    quantity = form.get_by_label("Qty / hours")
    quantity.fill("2")
    quantity.press("Enter")

    lines = page.locator("#job-lines")
    expect(lines).to_contain_text("BP-778F")
    expect(total).to_have_text("$228.00")
    expect(page.locator("#part-chosen")).to_contain_text("No part chosen")
    screenshot(page, "part-picker-03-added")
    assert shop["card"].lines.filter(part=shop["part"], quantity=2).exists()
    assert page.console_errors == []
