import os

import pytest

from tests import factories
from tests.fault_report import FaultReport, clear_previous, fault_report_for_worker, print_summary


def pytest_configure(config):
    # Real password hashing takes ~0.3 s per user on purpose; the suite creates hundreds of users.
    from django.test.utils import override_settings

    override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()


def pytest_report_header(config):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return f"servicebay database: {engine}"


@pytest.fixture
def location(db):
    return factories.make_location()


@pytest.fixture
def customer(db, location):
    return factories.make_customer(home_location=location)


@pytest.fixture
def vehicle(customer):
    return factories.make_vehicle(customer)


@pytest.fixture
def advisor(db):
    return factories.make_user("advisor")


@pytest.fixture
def manager(db):
    return factories.make_user("manager")


@pytest.fixture
def technician(db):
    return factories.make_user("technician")


@pytest.fixture
def advisor_client(client, advisor):
    client.force_login(advisor)
    return client


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """Each test gets its own in-memory cache (the file cache is shared by parallel workers)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"test-{os.getpid()}-{id(settings)}"}}


@pytest.fixture
def fault_report() -> FaultReport:
    """Where a fault-injection test records runs, faults injected and anomalies found."""
    return fault_report_for_worker()


def pytest_sessionstart(session):
    clear_previous(session)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    print_summary(terminalreporter, config)
