"""Schemathesis over the loyalty endpoints: whatever comes in, never a 500 (as a manager, who may
call every one of them)."""

import json
from urllib.parse import urlencode

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings

from servicebay.api import api
from servicebay.loyalty.services import points_adjust
from tests import factories

from .conftest import SYSTEM, card_with_lines, make_program

schema = schemathesis.openapi.from_dict(json.loads(json.dumps(api.get_openapi_schema(), default=str)))


@pytest.fixture
def manager_session(db):
    program = make_program()
    customer = factories.make_customer()
    points_adjust(customer=customer, program=program, points=500, reason="Fuzz", actor=SYSTEM)
    card_with_lines(customer, ("labor", "100.00"))
    client = Client()
    client.force_login(factories.make_user("manager"))
    return client


@pytest.mark.slow
@schema.include(path_regex="loyalty").parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_loyalty_endpoints_never_answer_with_a_server_error(case, manager_session):
    body = case.body
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body, default=str)
    response = manager_session.generic(
        case.method.upper(), case.formatted_path, data=body or b"",
        content_type="application/json", QUERY_STRING=urlencode(case.query or {}, doseq=True),
    )
    if response.streaming:
        b"".join(response.streaming_content)
    assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body)
