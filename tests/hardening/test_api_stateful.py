"""Stateful API fuzz: schemathesis chains operations along the links it infers from the spec
(create a customer, then read, patch and use it; open a job card, add lines, transition it...),
as an administrator, inside one test transaction per run.

Checked after every step: never a 5xx, every response matches its documented schema, a resource
the API just created can be read back (``ensure_resource_availability``) and a deleted one is gone
(``use_after_free``). Bounded for CI (FUZZ_EXAMPLES scenarios of a few steps); ``make fuzz`` runs
it longer."""

from __future__ import annotations

import pytest
import schemathesis
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    ensure_resource_availability,
    response_schema_conformance,
    use_after_free,
)

from tests import factories
from tests.hardening.api_fuzzing import FUZZ_EXAMPLES, api_spec, send

schema = schemathesis.openapi.from_dict(api_spec())
CHECKS = [not_a_server_error, response_schema_conformance, ensure_resource_availability, use_after_free]


class Workflow(schema.as_state_machine()):
    """Each scenario runs in a savepoint rolled back at its end, so every scenario starts from the
    same data (hypothesis replays scenarios and needs them to behave the same way)."""

    client: Client  # set by the test before the run

    def setup(self) -> None:
        self._scenario = transaction.atomic()
        self._scenario.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._scenario.__exit__(None, None, None)

    def call(self, case, **kwargs):
        return send(self.client, case)

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(response, checks=CHECKS)


@pytest.mark.slow
@pytest.mark.django_db
def test_stateful_fuzz_chains_operations_without_server_error_or_schema_violation():
    assert schema.statistic.transitions.total > 100, "the spec lost the links schemathesis infers"
    factories.make_job_card_in("in_progress", vehicle=factories.make_vehicle(factories.make_customer()))
    Workflow.client = Client()
    Workflow.client.force_login(factories.make_user("admin"))
    Workflow.run(settings=settings(
        max_examples=max(FUZZ_EXAMPLES * 5, 10), stateful_step_count=6, deadline=None,
        suppress_health_check=list(HealthCheck), database=None,
    ))
