"""Customer 360 in Chromium: open a customer, read the KPIs, add a note, book an appointment,
send a message — at desktop (1280px) and tablet (820px) widths, keyboard included."""

from __future__ import annotations

import contextlib
import zoneinfo
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from servicebay.customer360.providers import MESSAGING
from servicebay.shop import services
from servicebay.visits import services as visit_services
from tests import factories
from tests.browser.conftest import TABLET
from tests.factories import SYSTEM
from tests.loyalty.conftest import make_program

PASSWORD = "pw-for-tests-1"

pytestmark = pytest.mark.browser


def _completed_card(vehicle, location, amount: str, days_ago: int):
    card = factories.make_job_card(vehicle=vehicle, location=location)
    services.job_line_add(job_card=card, actor=SYSTEM, kind="labor", description="Service",
                          unit_price=Decimal(amount))
    services.job_card_transition(job_card=card, to_status="in_progress", actor=SYSTEM)
    services.job_card_transition(job_card=card, to_status="completed", actor=SYSTEM)
    when = timezone.now() - timedelta(days=days_ago)
    type(card).objects.filter(pk=card.pk).update(opened_at=when, completed_at=when)
    return card


@pytest.fixture
def history(transactional_db):
    location = factories.make_location(name="Bay Downtown", time_zone="America/Chicago")
    customer = factories.make_customer(first_name="Rosa", last_name="Alvarez", home_location=location,
                                       phone="+13125550199", email="rosa@example.com")
    camry = factories.make_vehicle(customer, make="Toyota", model="Camry", plate="ROSA01")
    factories.make_vehicle(customer, make="Honda", model="Civic", plate="ROSA02", year=2015)
    factories.make_template(code="OIL", name="Oil change", price=Decimal("49.95"))
    brakes = factories.make_template(code="BRK", name="Brake inspection", price=Decimal("89.00"),
                                     interval_months=None, interval_miles=None)
    make_program(name="Rewards")  # 1 point per dollar, worth a cent each; Silver from 500 points
    _completed_card(camry, location, "120.00", 400)
    _completed_card(camry, location, "250.00", 90)
    _completed_card(camry, location, "80.50", 20)
    # A visit where the customer declined the brake work the technician recommended.
    visit = visit_services.visit_check_in(actor=SYSTEM, vehicle=camry, customer=customer,
                                          location=location, odometer_in=43000)
    advice = visit_services.recommendation_add(visit=visit, service_template=brakes, actor=SYSTEM,
                                               measured_value="pads 3 mm")
    factories.add_line(visit.job_card, unit_price=Decimal("60.00"))
    for step in ("in_progress", "completed"):
        services.job_card_transition(job_card=visit.job_card, to_status=step, actor=SYSTEM)
    visit_services.visit_check_out(visit=visit, actor=SYSTEM)
    visit_services.recommendation_decline(recommendation=advice, actor=SYSTEM)
    services.note_add(customer=customer, actor=SYSTEM, body="Prefers morning drop-off.")
    advisor = factories.make_user("advisor", username="rosa-advisor", password=PASSWORD)
    return {"customer": customer, "location": location, "camry": camry, "advisor": advisor}


def login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def kpi(page, key: str) -> str:
    return page.locator(f"[data-kpi='{key}'] .stat__value").inner_text().strip()


def focused_id(page, expected: str, timeout_ms: int = 5000) -> str:
    """The id of the element holding the keyboard focus, once it is `expected` or the time is up.

    htmx puts the focus in place while it swaps or settles (a few milliseconds after the new
    markup shows), so the test waits for it instead of reading the focus at one instant."""
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function("id => document.activeElement && document.activeElement.id === id",
                               arg=expected, timeout=timeout_ms)
    return page.evaluate("document.activeElement ? document.activeElement.id : null")


def unlabelled_controls(page) -> list[str]:
    """Visible form controls without an accessible name (label, aria-label, aria-labelledby)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea'))
            .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.name || el.id)"""
    )


def test_advisor_reads_kpis_adds_note_books_and_messages(browser_page, screenshot, live_server, history):
    from playwright.sync_api import expect

    page = browser_page
    customer = history["customer"]
    login(page, live_server, "rosa-advisor")
    page.goto(f"{live_server.url}/customer360/{customer.pk}/")

    # The header and the KPIs.
    assert page.get_by_role("heading", level=1).inner_text() == "Rosa Alvarez"
    assert kpi(page, "total_visits") == "4"
    assert kpi(page, "lifetime_spend") == "$510.50"
    assert kpi(page, "spend_last_12_months") == "$390.50"
    assert kpi(page, "next_appointment") == "None booked"
    assert kpi(page, "open_recommendations") == "1"
    assert kpi(page, "points_balance") == "510"
    assert "Silver" in page.locator(".c360-badges").inner_text()
    assert "Declined work: $89.00 open" in page.locator("#c360-nba").inner_text()
    assert page.locator(".c360-chart").count() == 1
    assert unlabelled_controls(page) == []
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, "customer360-01-overview-1280")

    # Keyboard order: the tabs, then the next best actions and the quick actions, then the feed.
    order = page.evaluate("""() => {
        const stops = ['#c360-tab-overview', '#c360-nba a', '#qa-note summary', '#c360-feed-kind'];
        const focusable = Array.from(document.querySelectorAll(
            'a[href], button, input, select, textarea, summary')).filter(el => el.offsetParent !== null);
        return stops.map(sel => focusable.indexOf(document.querySelector(sel)));
    }""")
    assert all(i >= 0 for i in order) and order == sorted(order)

    # Add a pinned note: it appears at the top of the feed and among the pinned notes.
    note = page.get_by_label("Note", exact=True)
    note.fill("Called about the brake noise; will come in next week.")
    page.get_by_label("Pin to the top").check()
    page.get_by_role("button", name="Add note").click()
    first = page.locator("#c360-feed-list > li").first
    first.get_by_text("brake noise").wait_for()
    # What follows a swap is asserted with expect(), which waits for it (a loaded CI machine).
    expect(first).to_contain_text("Pinned note")
    expect(page.locator("#c360-pinned")).to_contain_text("brake noise")
    expect(page.get_by_label("Note", exact=True)).to_have_value("")
    screenshot(page, "customer360-02-note-added")

    # An empty note is refused inline, nothing is added.
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#qa-note .field__error")).to_contain_text("Write the note first.")

    # Book an appointment tomorrow 10:00 at the location's local time.
    page.locator("#qa-appointment > summary").click()
    tomorrow = (timezone.now() + timedelta(days=2)).astimezone(
        zoneinfo.ZoneInfo("America/Chicago")).date()
    page.get_by_label("Vehicle", exact=True).select_option(label=str(history["camry"]))
    page.get_by_label("Date").fill(tomorrow.isoformat())
    page.get_by_label("Time").fill("10:00")
    page.get_by_label("Oil change").check()
    page.get_by_role("button", name="Book appointment").click()
    page.locator("#qa-appointment .alert--success").wait_for()
    expect(page.locator("[data-kpi='next_appointment'] .stat__value")).to_contain_text("10:00")
    expect(page.locator("#c360-feed-list > li").first).to_contain_text("Appointment booked")
    screenshot(page, "customer360-03-appointment-booked")

    # The same slot again: the console warns about the conflict and asks before booking.
    page.get_by_label("Vehicle", exact=True).select_option(label=str(history["camry"]))
    page.get_by_label("Date").fill(tomorrow.isoformat())
    page.get_by_label("Time").fill("10:30")
    page.get_by_label("Time").dispatch_event("change")
    page.locator("#c360-conflicts .alert--warning").wait_for()
    page.get_by_role("button", name="Book appointment").click()
    page.get_by_role("button", name="Book anyway").wait_for()
    screenshot(page, "customer360-04-appointment-conflict")

    # One click on the declined work opens the booking form with that work and vehicle chosen.
    page.get_by_role("link", name="Book the declined work").click()
    form = page.locator("#qa-appointment")
    expect(form.get_by_label("Brake inspection")).to_be_checked()
    expect(form.get_by_label("Oil change")).not_to_be_checked()
    expect(page.locator("#appt-vehicle")).to_be_focused()
    form.get_by_label("Date").fill((tomorrow + timedelta(days=7)).isoformat())
    form.get_by_label("Time").fill("08:30")
    form.get_by_role("button", name="Book appointment").click()
    form.locator(".alert--success").wait_for()
    expect(page.locator("#c360-nba")).not_to_contain_text("Declined work")  # it is booked now
    screenshot(page, "customer360-04b-declined-work-booked")

    if MESSAGING.service("message_send_now") is not None:
        # Send a message: the console says how it goes out (now, or held for quiet hours).
        page.locator("#qa-message > summary").click()
        page.locator("#msg-text").fill("Your car is ready for pick-up.")
        page.locator("#c360-message-preview .alert").wait_for()
        page.get_by_role("button", name="Send message").click()
        outcome = page.locator("#qa-message > .alert")
        expect(outcome).to_contain_text("by Email")
        expect(page.locator("#c360-feed-list > li").first).to_have_attribute("data-kind", "message.scheduled")
        screenshot(page, "customer360-05-message-sent")
    assert page.console_errors == []


def test_console_works_at_tablet_width_and_by_keyboard(browser_page, screenshot, live_server, history):
    page = browser_page
    customer = history["customer"]
    login(page, live_server, "rosa-advisor")
    page.set_viewport_size(TABLET)
    page.goto(f"{live_server.url}/customer360/{customer.pk}/")
    assert kpi(page, "total_visits") == "4"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    screenshot(page, "customer360-06-overview-820")

    # Keyboard only: focus the note box, type, tab to the pin box and the button, submit.
    page.get_by_label("Note", exact=True).focus()
    page.keyboard.type("Typed by keyboard")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "pinned"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Add note"
    page.keyboard.press("Enter")
    page.locator("#c360-feed-list > li").first.get_by_text("Typed by keyboard").wait_for()
    # The fresh note box has the focus again, ready for the next note.
    assert focused_id(page, "note-body") == "note-body"

    # Tabs switch in place by keyboard, keep the focus on the tab and the address bar in step.
    page.locator("#c360-tab-vehicles").focus()
    page.keyboard.press("Enter")
    page.locator("[data-tab='vehicles']").wait_for()
    assert "tab=vehicles" in page.url
    assert focused_id(page, "c360-tab-vehicles") == "c360-tab-vehicles"
    assert page.locator("tr[data-vehicle]").count() == 2
    screenshot(page, "customer360-07-vehicles-820")

    # The feature apps' tabs open in place too, whichever have landed.
    for key in ("timeline", "loyalty", "communications"):
        tab = page.locator(f"#c360-tab-{key}")
        if tab.count():
            tab.click()
            page.locator(f"[data-tab='{key}']").wait_for()
            page.wait_for_timeout(400)  # a panel may load itself with one more htmx request
            page.wait_for_load_state("networkidle")
            screenshot(page, f"customer360-08-{key}-820")
    assert page.console_errors == []
