"""What the stateless and the stateful API fuzz share: the spec, and a case sent through Django's
test client (in-process, inside the test's transaction) answered as a schemathesis response."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import urlencode

import requests
from django.db import DatabaseError, transaction
from django.test import Client
from schemathesis.core.transport import Response

from servicebay.api import api

# Examples per operation (stateless) and scenarios (stateful); `make fuzz` sets 500.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))


def api_spec() -> dict:
    """The app's spec, with one documented leniency: pydantic marks ``datetime.time`` fields as
    ``format: time``, which JSON Schema (RFC 3339 full-time) says carries a UTC offset. ServiceBay's
    times (quiet hours) are local wall-clock times in the location's zone, sent as ``HH:MM:SS``;
    checking them as RFC 3339 partial-time is what the field means."""
    text = json.dumps(api.get_openapi_schema(), default=str)
    return json.loads(text.replace('"format": "time"', '"format": "partial-time"'))


def send(client: Client, case) -> Response:
    """Send a schemathesis case through the Django test client.

    The request runs in a savepoint. In production each request has its own connection state, so a
    statement the database refuses (a number out of range, answered 422) ends with that request;
    inside the test's one long transaction it would abort every later request on PostgreSQL, so a
    request that leaves the transaction aborted is rolled back to its savepoint."""
    body = case.body
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body, default=str)
    started = time.perf_counter()
    savepoint = transaction.savepoint()
    response = client.generic(
        case.method.upper(), case.formatted_path, data=body or b"", content_type="application/json",
        QUERY_STRING=urlencode(case.query or {}, doseq=True),
    )
    try:
        transaction.savepoint_commit(savepoint)
    except DatabaseError:
        transaction.savepoint_rollback(savepoint)
    elapsed = time.perf_counter() - started
    request = requests.Request(case.method.upper(), "http://testserver" + case.formatted_path).prepare()
    content = b"".join(response.streaming_content) if response.streaming else response.content
    headers = {name: [value] for name, value in response.headers.items()}
    return Response(status_code=response.status_code, headers=headers, content=content,
                    request=request, elapsed=elapsed, verify=True)
