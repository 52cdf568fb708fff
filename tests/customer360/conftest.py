import pytest

from tests import factories


@pytest.fixture
def technician_client(client, technician):
    client.force_login(technician)
    return client


@pytest.fixture
def marketing_client(client, db):
    client.force_login(factories.make_user("marketing"))
    return client


@pytest.fixture
def oil_change(db):
    return factories.make_template(code="OIL", name="Oil change", price="49.95",
                                   interval_months=6, interval_miles=5000)


@pytest.fixture
def brakes(db):
    return factories.make_template(code="BRK", name="Brake pads", price="180.00",
                                   interval_months=None, interval_miles=None)
