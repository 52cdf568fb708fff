"""Who may open what: every page in the URL conf and every operation in the OpenAPI spec, for every
role and API-key scope. The tables below are the whole policy; a URL or an operation they do not
cover fails the test by name, so a new endpoint cannot slip in unchecked.

Roles and scopes are read from ``servicebay/core/roles.py``: a page's permission comes from the
``required_permission`` its ``permission_required`` decorator exposes, an operation's from the
``API_GET_PERMISSIONS`` table (the permission its ``require(request, ...)`` call names).
"""

from __future__ import annotations

import json
import re
import warnings
from urllib.parse import urlencode

import pytest
import schemathesis
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis.errors import NonInteractiveExampleWarning

from servicebay.api import api
from servicebay.core.roles import PERMISSIONS, SCOPES, Role
from servicebay.core.services import api_key_create
from tests import factories

pytestmark = pytest.mark.slow

# --- The policy -----------------------------------------------------------------------------------

# Pages anyone may open, signed in or not, and why.
PUBLIC_PAGES: dict[str, str] = {
    "login": "the sign-in form itself",
    "logout": "signing out needs no session (it only ends one)",
    "visits:satisfaction_survey": "the customer opens it from a signed link; the token is the credential",
    "messaging:unsubscribe": "the customer opens it from a signed link in a message; the token is the credential",
    "messaging:webhook_inbound": "the SMS/email provider calls it; it checks the provider's signature",
    "messaging:webhook_status": "the SMS/email provider calls it; it checks the provider's signature",
}

# Pages any signed-in user may open (no role needed), and why.
SIGNED_IN_PAGES: dict[str, str] = {
    "api:openapi-json": "the API's machine-readable spec: staff only, no data in it",
    "api:openapi-view": "the API's docs page: staff only, no data in it",
}

# Routes that exist in the URL conf but answer 404 to everyone, and why.
ABSENT_PAGES: dict[str, str] = {
    "api:api-root": "Ninja's placeholder for /api/v1/ itself: no page there",
}

# Pages that check their permission in the body instead of with the decorator (GET permission).
PAGE_PERMISSIONS: dict[str, str] = {
    "loyalty:job_card_loyalty": "loyalty.view",  # POST needs loyalty.redeem
}

# URL prefixes outside this matrix, and why.
OUT_OF_MATRIX_PREFIXES: dict[str, str] = {
    "admin/": "Django's admin site: its own staff/superuser checks (tests/core/test_admin.py)",
}

# Permission each GET operation requires ("METHOD path" regex -> permission). Unsafe operations are
# checked for anonymous, no-role and no-scope callers; what the roles may change is the services' tests.
API_GET_PERMISSIONS: list[tuple[str, str]] = [
    (r"GET /api/v1/loyalty/reports/liability$", "loyalty.report"),
    (r"GET /api/v1/loyalty/ledger/export$", "loyalty.report"),
    (r"GET /api/v1/(loyalty/.*|customers/\{customer_id\}/loyalty|job-cards/\{job_card_id\}/loyalty)$",
     "loyalty.view"),
    (r"GET /api/v1/(customers/\{customer_id\}/consent.*|suppressions|message-templates.*|journeys.*"
     r"|messages.*)$", "messaging.view"),
    (r"GET /api/v1/segments/\{segment_id\}/members$", "segments.export"),
    (r"GET /api/v1/segments.*$", "segments.view"),
    (r"GET /api/v1/warehouse/runs$", "warehouse.view"),
    (r"GET /api/v1/(locations|customers|vehicles|service-templates|parts|appointments|job-cards|visits)"
     r"(/.*)?$", "shop.view"),
]

# Operations whose spec is wrong in a way that keeps a schema-valid request from reaching the
# permission check; the check is relaxed to "refused (403 or 422)" until the spec is fixed.
SPEC_DEFECTS: dict[str, str] = {}

ROLES = [Role.TECHNICIAN, Role.ADVISOR, Role.MARKETING, Role.MANAGER, Role.ADMIN]
UNKNOWN_ID = 987654321

_SPEC = json.loads(json.dumps(api.get_openapi_schema(), default=str))
_SCHEMA = schemathesis.openapi.from_dict(_SPEC)

# --- Discovery ------------------------------------------------------------------------------------


def _walk(resolver, prefix="", namespace=None):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace])) or None
            yield from _walk(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = ":".join(filter(None, [namespace, entry.name]))
            yield prefix + str(entry.pattern), name, entry.callback


def html_pages() -> list[tuple[str, str, object]]:
    return [(route, name, view) for route, name, view in _walk(get_resolver())
            if not route.startswith("api/v1/") or (name.startswith("api:") and "openapi" in name)
            or name == "api:api-root"]


def api_operations() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in _SPEC["paths"].items() for method in ops]


def page_permission(name: str, view) -> str | None:
    return getattr(view, "required_permission", None) or PAGE_PERMISSIONS.get(name)


def api_get_permission(method: str, path: str) -> str | None:
    key = f"{method} {path}"
    return next((perm for pattern, perm in API_GET_PERMISSIONS if re.match(pattern, key)), None)


def _fill(route: str, ids: dict[str, int]) -> str:
    def value(match):
        return str(ids.get(match.group(2), UNKNOWN_ID)) if match.group(1) != "str" else "not-a-token"
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: value(m) if m.group(1) else str(UNKNOWN_ID), route)


# --- Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def world(db):
    customer = factories.make_customer()
    card = factories.make_job_card_in("in_progress", vehicle=factories.make_vehicle(customer))
    return {"customer_id": customer.pk, "pk": customer.pk, "job_card_id": card.pk}


@pytest.fixture
def users(db):
    found = {"nobody": factories.make_user(None)}
    found.update({role.value: factories.make_user(role.value) for role in ROLES})
    return found


@pytest.fixture
def keys(db):
    found = {}
    for scope in SCOPES:
        _, found[scope] = api_key_create(name=f"matrix {scope}", scopes=[scope])
    key, found[None] = api_key_create(name="matrix no scope", scopes=["read"])
    key.scopes = []
    key.save(update_fields=["scopes"])
    return found


def _session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Coverage -------------------------------------------------------------------------------------


def test_every_page_is_declared_in_the_policy():
    undeclared = [
        f"{name or '(unnamed)'} ({route})" for route, name, view in html_pages()
        if not any(route.startswith(p) for p in OUT_OF_MATRIX_PREFIXES)
        and name not in PUBLIC_PAGES and name not in SIGNED_IN_PAGES and name not in ABSENT_PAGES
        and not page_permission(name, view)
    ]
    assert not undeclared, ("Pages with no permission decorator and no entry in the policy tables: "
                            + ", ".join(undeclared))


def test_every_get_operation_has_a_declared_permission():
    undeclared = [f"{m} {p}" for m, p in api_operations() if m == "GET" and not api_get_permission(m, p)]
    assert not undeclared, "GET operations missing from API_GET_PERMISSIONS: " + ", ".join(undeclared)


def test_declared_permissions_exist_in_the_roles_table():
    declared = {perm for _, perm in API_GET_PERMISSIONS} | set(PAGE_PERMISSIONS.values())
    assert declared <= set(PERMISSIONS), declared - set(PERMISSIONS)


# --- Pages ----------------------------------------------------------------------------------------


def test_pages_answer_each_role_as_the_policy_says(world, users, client):
    failures, checked = [], 0
    sessions = {name: _session(user) for name, user in users.items()}
    for route, name, view in html_pages():
        if any(route.startswith(p) for p in OUT_OF_MATRIX_PREFIXES):
            continue
        url = _fill(route, world)
        # A POST-only page answers GET with 405 before any check: ask it with POST (empty form).
        verb = "post" if sessions["admin"].get(url).status_code == 405 else "get"
        anonymous = getattr(client, verb)(url).status_code
        checked += 1
        if name in PUBLIC_PAGES:
            # Public: never sent to the login page (a webhook may still refuse a missing signature).
            if anonymous == 302 and "/login/" in client.get(url)["Location"] and name != "logout":
                failures.append(f"{name}: public page sent anonymous to the login page")
            continue
        if name in ABSENT_PAGES:
            for who, c in [("anonymous", client), ("no role", sessions["nobody"])]:
                status = getattr(c, verb)(url).status_code
                checked += 1
                if status != 404:
                    failures.append(f"{name}: {who} got {status}, expected 404")
            continue
        if anonymous != 302:
            failures.append(f"{name}: anonymous got {anonymous}, expected a redirect to login")
        permission = page_permission(name, view)
        for who, session in sessions.items():
            status = getattr(session, verb)(url).status_code
            checked += 1
            if name in SIGNED_IN_PAGES:
                allowed = True
            else:
                allowed = who != "nobody" and Role(who) in PERMISSIONS[permission]
            # An empty POST may still be refused by a finer check inside the view (e.g. a technician
            # may not close a job card), so for POST-only pages only the refusals are asserted.
            if allowed and verb == "get" and status in (401, 403):
                failures.append(f"{name} ({permission}): {who} got {status}, expected access")
            if not allowed and status != 403:
                failures.append(f"{name} ({permission}): {who} got {status}, expected 403")
    assert not failures, f"{len(failures)} of {checked} checks failed:\n" + "\n".join(failures)


# --- API ------------------------------------------------------------------------------------------


def _body_for(method: str, path: str):
    """A body and query generated to pass the schema."""
    from schemathesis.generation import GenerationMode

    strategy = _SCHEMA[path][method.lower()].as_strategy(generation_mode=GenerationMode.POSITIVE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        case = strategy.example()
    return case.body, case.query


def _required_query(method: str, path: str) -> bool:
    operation = _SPEC["paths"][path][method.lower()]
    return any(p.get("required") and p["in"] == "query" for p in operation.get("parameters", []))


_DECIMAL_FIELDS = {"price", "unit_price", "labor_hours", "quantity", "amount", "discount"}


def _plain_decimals(value):
    """Money and quantities are ``number | string`` in the spec; any string is not a decimal."""
    if isinstance(value, dict):
        return {k: "1.00" if k in _DECIMAL_FIELDS else _plain_decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_decimals(v) for v in value]
    return value


def test_api_operations_answer_each_caller_as_the_policy_says(world, users, keys, client):
    failures, checked = [], 0
    sessions = {name: _session(user) for name, user in users.items()}
    key_clients = {scope: Client(HTTP_AUTHORIZATION=f"Bearer {key}") for scope, key in keys.items()}

    def call(c, method, url, body=None, query=None):
        return c.generic(method, url, data=json.dumps(body, default=str) if body is not None else b"",
                         content_type="application/json",
                         QUERY_STRING=urlencode(query or {}, doseq=True)).status_code

    for method, path in api_operations():
        url = re.sub(r"\{(\w+)\}", lambda m: str(world.get(m.group(1), UNKNOWN_ID)), path)
        # A request that passes the schema, so that it reaches the endpoint's permission check
        # (Ninja validates the body and query before the endpoint runs).
        for attempt in range(12):
            if method == "GET" and not _required_query(method, path):
                body, query = None, None
                break
            body, query = _body_for(method, path)
            if method == "GET":
                body = None
            elif attempt >= 3:
                body = _plain_decimals(body)
            if call(sessions["nobody"], method, url, body, query) != 422:
                break
        status = call(client, method, url, body, query)
        checked += 1
        if status != 401:
            failures.append(f"{method} {path}: anonymous got {status}, expected 401")
        for who, c in [("no role", sessions["nobody"]), ("key without scopes", key_clients[None])]:
            status = call(c, method, url, body, query)
            checked += 1
            refused = (403, 422) if f"{method} {path}" in SPEC_DEFECTS else (403,)
            if status not in refused:
                failures.append(f"{method} {path}: {who} got {status}, expected 403")
        if method != "GET":
            continue
        permission = api_get_permission(method, path)
        callers = [(role.value, sessions[role.value], Role(role) in PERMISSIONS[permission]) for role in ROLES]
        callers += [(f"key scope {scope}", key_clients[scope], permission in SCOPES[scope]) for scope in SCOPES]
        for who, c, allowed in callers:
            status = call(c, method, url, None, query)
            checked += 1
            if allowed and status in (401, 403):
                failures.append(f"{method} {path} ({permission}): {who} got {status}, expected access")
            if not allowed and status != 403:
                failures.append(f"{method} {path} ({permission}): {who} got {status}, expected 403")
    assert not failures, f"{len(failures)} of {checked} checks failed:\n" + "\n".join(failures)
