"""Every HTML page sends the strict Content Security Policy, refuses framing and sniffing, and every
form refuses a POST that lacks the CSRF token."""

from __future__ import annotations

import pytest
from django.test import Client

from servicebay.core.middleware import SecurityHeadersMiddleware

from .test_authorization_matrix import ABSENT_PAGES, OUT_OF_MATRIX_PREFIXES, _fill, html_pages

pytestmark = pytest.mark.slow

# POST endpoints that take no CSRF token by design, and why.
CSRF_EXEMPT: dict[str, str] = {
    "messaging:unsubscribe": "one-click unsubscribe: mail clients POST it without a session (RFC 8058); "
                             "the signed token is the credential",
    "messaging:webhook_inbound": "called by the SMS/email provider, authenticated by its signature",
    "messaging:webhook_status": "called by the SMS/email provider, authenticated by its signature",
}


def _pages():
    return [(route, name) for route, name, _ in html_pages()
            if not any(route.startswith(p) for p in OUT_OF_MATRIX_PREFIXES) and name not in ABSENT_PAGES
            and not route.startswith("api/")]


@pytest.fixture
def world(db):
    from tests import factories

    customer = factories.make_customer()
    card = factories.make_job_card_in("in_progress", vehicle=factories.make_vehicle(customer))
    return {"customer_id": customer.pk, "pk": customer.pk, "job_card_id": card.pk}


@pytest.fixture
def admin_session(db):
    from tests import factories

    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.make_user("admin"))
    return client


def test_every_page_sends_the_strict_csp_and_refuses_framing_and_sniffing(world, admin_session):
    failures = []
    for route, name in _pages():
        url = _fill(route, world)
        response = admin_session.get(url)
        for header, expected in [("Content-Security-Policy", SecurityHeadersMiddleware.CSP),
                                 ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff")]:
            if response.headers.get(header) != expected:
                failures.append(f"{name} ({response.status_code}): {header} = {response.headers.get(header)!r}")
    assert not failures, "\n".join(failures)


def test_csp_forbids_inline_script_and_framing():
    directives = dict(d.strip().split(" ", 1) for d in SecurityHeadersMiddleware.CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'"


def test_only_the_declared_endpoints_skip_csrf():
    exempt = {name for _, name, view in html_pages() if getattr(view, "csrf_exempt", False)
              and not any(r.startswith(p) for p in (*OUT_OF_MATRIX_PREFIXES, "api/") for r in [_r(name)])}
    assert exempt == set(CSRF_EXEMPT)


def _r(name):
    return next(route for route, n, _ in html_pages() if n == name)


def test_every_form_refuses_a_post_without_the_csrf_token(world, admin_session):
    failures, posted = [], 0
    for route, name in _pages():
        if name in CSRF_EXEMPT:
            continue
        url = _fill(route, world)
        response = admin_session.post(url, {"anything": "1"})
        if response.status_code == 405:
            continue  # this page takes no POST at all
        posted += 1
        if response.status_code != 403:
            failures.append(f"{name}: POST without a CSRF token answered {response.status_code}")
    assert posted > 20
    assert not failures, "\n".join(failures)
