"""Schemathesis over the segments and warehouse endpoints: whatever comes in, never a 500."""

import json

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings

from servicebay.api import api
from servicebay.core.services import api_key_create
from servicebay.segments import services
from tests.factories import SYSTEM

schema = schemathesis.openapi.from_dict(json.loads(json.dumps(api.get_openapi_schema(), default=str)))


@pytest.fixture
def keyed_client(db):
    segment = services.segment_create(actor=SYSTEM, name="fuzz",
                                      filter={"root": {"field": "visit_count", "op": "gte", "value": 0}})
    services.snapshot_take(segment=segment, actor=SYSTEM)
    _, key = api_key_create(name="fuzz", scopes=["export", "pii", "read"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.slow
@schema.include(path_regex="^/api/v1/(segments|warehouse)").parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_segment_endpoints_never_answer_with_a_server_error(case, keyed_client):
    body = json.dumps(case.body, default=str) if case.body is not None and not isinstance(case.body, bytes) else case.body
    response = keyed_client.generic(
        case.method.upper(), case.formatted_path, data=body or b"",
        content_type="application/json", QUERY_STRING=_query(case.query),
    )
    if response.streaming:
        b"".join(response.streaming_content)
    assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body)


def _query(query) -> str:
    from urllib.parse import urlencode

    return urlencode(query or {}, doseq=True)
