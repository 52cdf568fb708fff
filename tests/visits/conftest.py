import pytest

from tests import factories

# The browser fixtures (one Chromium per module, pages that collect console errors, screenshots).
from tests.browser.conftest import browser_page, chromium, screenshot  # noqa: F401


@pytest.fixture
def template(db):
    return factories.make_template(name="Brake pads (front)", code="BRAKE-F", price="180.00",
                                   interval_months=None, interval_miles=None)


@pytest.fixture
def oil_change(db):
    return factories.make_template(name="Oil change", code="OIL", price="49.95",
                                   interval_months=6, interval_miles=5000)


@pytest.fixture
def technician_client(client, technician):
    client.force_login(technician)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client
