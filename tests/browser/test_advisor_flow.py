"""An advisor's walk-in, end to end in Chromium: sign in, find the customer, check the car in
(a walk-in visit with its job card), add labor and a part (htmx, with an inline error on the way),
start and complete the work, check the car out, record the customer's rating and find the visit on
the customer's service timeline. Also: the top bar fits at desktop and tablet widths."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from servicebay.visits.models import CustomerVisit
from tests import factories
from tests.browser.conftest import DESKTOP, TABLET

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
    form.get_by_label("Part").fill("BP-778")
    form.get_by_role("button", name=re.compile("BP-778F")).click()
    expect(form.locator("#part-chosen")).to_contain_text("BP-778F")
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
    page.set_viewport_size(DESKTOP)

    # The customer collects the car: check out, then the rating and the survey link appear.
    visit_panel = page.locator("#job-card-visit")
    expect(visit_panel).to_contain_text("Walk-in")
    expect(page.locator("#visit-check-out")).to_have_text("Still in the shop")
    page.get_by_role("button", name="Check out").click()
    expect(page.locator("#toasts")).to_contain_text("Checked out.")
    expect(page.locator("#visit-check-out")).not_to_have_text("Still in the shop")
    expect(page.get_by_role("button", name="Check out")).to_have_count(0)
    expect(page.get_by_label("Survey link for the customer")).to_have_value(
        re.compile(r"^http://.+/visits/rate/[^/]+/$"))
    visit_panel.get_by_label("Customer's rating").select_option("5")
    visit_panel.get_by_label("Comment").fill("Done before lunch")
    visit_panel.get_by_role("button", name="Save rating").click()
    expect(page.locator("#visit-satisfaction")).to_contain_text("5/5")
    expect(page.get_by_label("Survey link for the customer")).to_have_count(0)
    screenshot(page, "advisor-08-checked-out")

    visit = CustomerVisit.objects.get(customer=shop["customer"])
    assert (visit.visit_type, visit.total_spend, visit.satisfaction_score) == ("walk_in", Decimal("244.00"), 5)
    assert visit.check_out_at is not None and visit.odometer_in == 48210

    # The visit is on the customer's timeline, with the job card behind it.
    visit_panel.get_by_role("link", name="See it on the service timeline").click()
    expect(page.get_by_role("heading", name="Rosa Alvarez")).to_be_visible()
    entry = page.locator(f"#visit-{visit.pk}")
    expect(entry).to_contain_text("Walk-in")
    expect(entry).to_contain_text("$244.00")
    expect(entry).to_contain_text("5/5")
    entry.locator("summary").click()
    expect(entry).to_contain_text("BP-778F")
    expect(entry).to_contain_text("Replace front brake pads")
    screenshot(page, "advisor-09-timeline")

    # The customer's page has the timeline as a tab.
    page.goto(f"{live_server.url}/customers/{shop['customer'].pk}/")
    tabs = page.get_by_role("navigation", name="Customer views")
    expect(tabs.get_by_role("link", name="Service timeline")).to_have_attribute(
        "href", f"/visits/customers/{shop['customer'].pk}/timeline/")
    assert page.console_errors == []


def _bar_fits(page) -> dict:
    """Where the top bar's pieces sit: nothing clipped, nothing overlapping, no sideways scroll."""
    return page.evaluate("""() => {
        const box = el => el.getBoundingClientRect();
        const nav = document.querySelector('.nav');
        const items = [...nav.querySelectorAll(':scope > .nav__link, :scope > .nav-more > summary')];
        const search = box(document.querySelector('.nav-search'));
        const user = box(document.querySelector('.user-menu'));
        const meet = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
        return {
            clipped: items.filter(el => el.scrollWidth > el.clientWidth + 1 || box(el).right > box(nav).right + 1)
                          .map(el => el.textContent.trim()),
            navScrolls: nav.scrollWidth > nav.clientWidth + 1,
            overlaps: meet(box(nav), search) || meet(box(nav), user) || meet(search, user),
            userRight: user.right,
            pageScrolls: document.documentElement.scrollWidth > window.innerWidth,
            labels: items.map(el => el.textContent.trim()),
        };
    }""")


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["desktop-1280", "tablet-820"])
def test_top_bar_fits_and_more_menu_opens_without_script(live_server, browser_page, screenshot, shop, viewport):
    from playwright.sync_api import expect

    factories.make_user("manager", username="morgan", password=PASSWORD)  # sees every feature page
    page = browser_page
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("morgan")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()

    bar = _bar_fits(page)
    assert bar["clipped"] == [] and not bar["navScrolls"] and not bar["overlaps"], bar
    assert not bar["pageScrolls"] and bar["userRight"] <= viewport["width"], bar
    assert bar["labels"][:4] == ["Today", "Customers", "Appointments", "Job cards"]
    assert bar["labels"][-1] == "More"

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_text("More", exact=True).click()
    menu = page.locator(".nav-more__menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("link", name="Loyalty")).to_be_visible()
    expect(menu.get_by_role("link", name="Messaging")).to_be_visible()
    screenshot(page, f"nav-more-{viewport['width']}")
    menu.get_by_role("link", name="Loyalty").click()
    # On a page from the menu, the menu's toggle names it and is marked active.
    expect(page.locator(".nav-more__toggle")).to_have_text("Loyalty")
    expect(page.locator(".nav-more__toggle")).to_have_class(re.compile("is-active"))
    assert not _bar_fits(page)["clipped"]
    assert page.console_errors == []
