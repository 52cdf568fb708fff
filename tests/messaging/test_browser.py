"""The template builder and a journey in Chromium: write a template with a variable, watch the SMS
counter and the live preview for a real customer, put it in the appointment reminder, switch the
journey on, and find the scheduled (quiet-hours deferred) message on the customer's page."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from servicebay.messaging import defaults
from servicebay.messaging.models import Journey, MessageTemplate
from servicebay.messaging.tasks import messaging_run_once
from tests import factories
from tests.browser.conftest import browser_page, chromium, screenshot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
PASSWORD = "pw-for-tests-1"


@pytest.fixture
def shop(transactional_db):
    defaults.install(MessageTemplate, Journey)
    local = timezone.now().astimezone(ZoneInfo("America/Chicago"))
    # Quiet hours around "now" on the shop's clock, so the reminder waits for the window's end.
    location = factories.make_location(
        name="Bay Downtown", time_zone="America/Chicago",
        quiet_hours_start=(local - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        quiet_hours_end=(local + timedelta(hours=3)).time().replace(second=0, microsecond=0),
    )
    customer = factories.make_customer(first_name="Rosa", last_name="Alvarez", home_location=location,
                                       phone="+13125550199", email="rosa@example.com")
    vehicle = factories.make_vehicle(customer, make="Toyota", model="Camry", year=2019, plate="ROSA01")
    factories.make_appointment(vehicle=vehicle, location=location, start_at=timezone.now() + timedelta(hours=20))
    factories.make_user("marketing", username="mia", password=PASSWORD)
    return {"location": location, "customer": customer}


def test_build_a_template_preview_it_switch_a_journey_on_and_see_the_scheduled_message(
    live_server, browser_page, screenshot, shop  # noqa: F811
):
    from playwright.sync_api import expect

    page = browser_page
    customer = shop["customer"]
    page.goto(f"{live_server.url}/login/?next=/messaging/")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Messaging")).to_be_visible()
    screenshot(page, "messaging-01-overview")

    page.get_by_role("link", name="New template").click()
    page.get_by_label("Name", exact=True).fill("Reminder with name")
    page.get_by_label("Code").fill("reminder-with-name")
    sms = page.get_by_label("SMS text")
    sms.fill("Hi {{ customer.first_name }}, see you {{ appointment.when }} at {{ appointment.location }}.")
    expect(page.locator("#sms-counter")).to_contain_text("1 segment · GSM-7")
    sms.press("End")
    sms.type(" ✓")
    expect(page.locator("#sms-counter")).to_contain_text("UCS-2")

    page.get_by_label("Preview for a customer").fill("Alvarez")
    page.get_by_role("button", name="Rosa Alvarez").click()
    preview = page.locator("#template-preview")
    expect(preview).to_contain_text("For Rosa Alvarez")
    expect(preview).to_contain_text("Hi Rosa, see you")
    expect(preview).to_contain_text("at Bay Downtown.")
    screenshot(page, "messaging-02-template-preview")

    # An unknown variable is refused when saving, inline, and nothing is stored.
    sms.fill("Hi {{ customer.nickname }}")
    page.get_by_role("button", name="Create template").click()
    expect(page.locator(".field__error")).to_contain_text("Unknown variable 'customer.nickname'")
    screenshot(page, "messaging-03-template-error")
    page.get_by_label("SMS text").fill("Hi {{ customer.first_name }}, see you {{ appointment.when }}.")
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_role("heading", name="Reminder with name")).to_be_visible()

    page.goto(f"{live_server.url}/messaging/")
    page.get_by_role("link", name="Appointment reminder").first.click()
    definition = page.get_by_label("Trigger and steps (JSON)")
    data = json.loads(definition.input_value())
    data["steps"][-1]["template"] = "reminder-with-name"
    definition.fill(json.dumps(data, indent=2))
    page.get_by_role("button", name="Save journey").click()
    expect(page.locator(".steps")).to_contain_text("Send “reminder-with-name”")
    page.get_by_role("button", name="Switch on").click()
    expect(page.get_by_role("button", name="Switch off")).to_be_visible()
    page.get_by_role("button", name="Run dry run").click()
    expect(page.locator("#dry-run")).to_contain_text("Rosa Alvarez")
    screenshot(page, "messaging-04-journey-on")

    messaging_run_once(dispatch=False)  # what the worker does every minute

    page.goto(f"{live_server.url}/messaging/customers/{customer.pk}/")
    item = page.locator(".message-item").first
    expect(item).to_contain_text("Reminder with name")
    expect(item).to_contain_text("Will be sent at")
    end = shop["location"].quiet_hours_end.strftime("%H:%M")
    expect(item).to_contain_text(end)
    expect(item).to_contain_text("Hi Rosa, see you")
    screenshot(page, "messaging-05-customer-scheduled")
    assert page.console_errors == []
