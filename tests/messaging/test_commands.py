from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from servicebay.messaging import defaults, journeys
from servicebay.messaging.models import Journey, Message, MessageTemplate
from servicebay.messaging.tasks import messaging_plan_dates, messaging_run
from tests import factories
from tests.messaging.conftest import STAFF

pytestmark = pytest.mark.django_db


def test_messaging_run_plans_advances_and_reports(open_location):
    defaults.install(MessageTemplate, Journey)
    reminder = journeys.journey_set_active(journey=Journey.objects.get(code="appointment-reminder"), active=True,
                                           actor=STAFF)
    customer = factories.make_customer(home_location=open_location)
    factories.make_appointment(vehicle=factories.make_vehicle(customer), location=open_location,
                               start_at=timezone.now() + timedelta(hours=20))
    out = StringIO()
    call_command("messaging", "run", "--no-dispatch", stdout=out)
    assert "planned=1" in out.getvalue() and "advanced=1" in out.getvalue()
    assert Message.objects.filter(journey=reminder).count() == 1


def test_messaging_dry_run_command_lists_messages(open_location):
    defaults.install(MessageTemplate, Journey)
    out = StringIO()
    call_command("messaging", "dry-run", "birthday-greeting", "--days", "3", stdout=out)
    assert out.getvalue().strip().endswith("message(s)")


def test_dry_run_of_an_unknown_journey_is_an_error():
    with pytest.raises(CommandError, match="No journey"):
        call_command("messaging", "dry-run", "nope")


def test_reconcile_command_runs():
    out = StringIO()
    call_command("messaging", "reconcile", stdout=out)
    assert out.getvalue().startswith("expired=0")


def test_periodic_tasks_run_as_django_tasks():
    assert messaging_run.call()["events"] == 0
    assert messaging_plan_dates.call() == 0
