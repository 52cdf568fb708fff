"""Who may do what with visits: every role and API-key scope against each endpoint, as roles.py says."""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from servicebay.core.roles import PERMISSIONS, SCOPES, Role
from servicebay.core.services import api_key_create
from servicebay.visits import services
from tests import factories
from tests.factories import SYSTEM
from tests.visits.factories import check_in, complete, finished_visit

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Operation:
    name: str
    permission: str
    success: int
    request: Callable[[], tuple[str, str, dict | None]]


def _open_visit():
    return check_in(factories.make_vehicle())


def _ready_visit():
    visit = _open_visit()
    complete(visit.job_card)
    return visit


def _suggestion():
    visit = _open_visit()
    return services.recommendation_add(visit=visit, service_template=factories.make_template(),
                                       actor=SYSTEM)


OPERATIONS = [
    Operation("read timeline", "shop.view", 200,
              lambda: ("GET", f"/customers/{_open_visit().customer_id}/timeline", None)),
    Operation("read what's next", "shop.view", 200,
              lambda: ("GET", f"/customers/{_open_visit().customer_id}/whats-next", None)),
    Operation("read visit", "shop.view", 200, lambda: ("GET", f"/visits/{_open_visit().pk}", None)),
    Operation("check in", "visits.write", 201, lambda: (
        "POST", "/visits", {"vehicle_id": factories.make_vehicle().pk,
                            "location_id": factories.make_location().pk})),
    Operation("check out", "visits.write", 200,
              lambda: ("POST", f"/visits/{_ready_visit().pk}/check-out", {})),
    Operation("rate", "visits.write", 200, lambda: (
        "POST", f"/visits/{finished_visit(factories.make_vehicle()).pk}/satisfaction", {"score": 4})),
    Operation("survey link", "visits.write", 200, lambda: (
        "POST", f"/visits/{finished_visit(factories.make_vehicle()).pk}/satisfaction-link", None)),
    Operation("recommend", "recommendations.write", 201, lambda: (
        "POST", f"/visits/{_open_visit().pk}/recommendations",
        {"service_template_id": factories.make_template().pk})),
    Operation("accept", "visits.write", 200,
              lambda: ("POST", f"/recommendations/{_suggestion().pk}/accept", {})),
    Operation("decline", "visits.write", 200,
              lambda: ("POST", f"/recommendations/{_suggestion().pk}/decline", {})),
]
ROLES = [role.value for role in Role] + ["anonymous"]


def _send(client: Client, operation: Operation, **headers):
    method, path, body = operation.request()
    kwargs = {"content_type": "application/json", "headers": headers}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method.lower())(f"/api/v1{path}", **kwargs)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
@pytest.mark.parametrize("role", ROLES)
def test_role_gets_exactly_what_the_roles_table_grants(client, role, operation):
    if role != "anonymous":
        client.force_login(factories.make_user(role))
    expected = 401 if role == "anonymous" else (
        operation.success if Role(role) in PERMISSIONS[operation.permission] else 403
    )
    response = _send(client, operation)
    assert response.status_code == expected, response.content


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
@pytest.mark.parametrize("scope", ["read", "write"])
def test_api_key_gets_exactly_what_its_scope_grants(scope, operation):
    _, plaintext = api_key_create(name=f"{scope} key", scopes=[scope])
    response = _send(Client(), operation, Authorization=f"Bearer {plaintext}")
    expected = operation.success if operation.permission in SCOPES[scope] else 403
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    ("role", "permission", "granted"),
    [
        ("technician", "recommendations.write", True),
        ("technician", "visits.write", False),
        ("advisor", "visits.write", True),
        ("manager", "visits.write", True),
        ("admin", "visits.write", True),
        ("marketing", "visits.write", False),
        ("marketing", "recommendations.write", False),
    ],
)
def test_roles_table_keeps_the_agreed_visit_rules(role, permission, granted):
    assert (Role(role) in PERMISSIONS[permission]) is granted


def test_html_actions_follow_the_same_table(client, location):
    visit = check_in(factories.make_vehicle(), location=location)
    rec = services.recommendation_add(visit=visit, service_template=factories.make_template(), actor=SYSTEM)
    client.force_login(factories.make_user("marketing"))
    assert client.get(f"/visits/customers/{visit.customer_id}/timeline/").status_code == 200
    assert client.post(f"/visits/recommendations/{rec.pk}/decline/").status_code == 403
    assert client.post(f"/visits/{visit.pk}/check-out/").status_code == 403
    assert client.get(f"/visits/customers/{visit.customer_id}/check-in/").status_code == 403
