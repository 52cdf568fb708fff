"""Stored XSS: hostile text saved in every field a person can write, then every HTML page opened
as an admin in Chromium.

Each page (enumerated from the URL conf, its ids filled with the hostile objects) must run no
injected script, contain no injected element or ``javascript:`` link, report no Content Security
Policy violation, and show the hostile text as text where that page shows the object. Lazy htmx
parts (``<details>`` forms, ``load`` triggers) are opened so their partials are swapped in too.
"""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User

from servicebay.core.actors import Actor
from servicebay.loyalty.models import CustomerLoyaltyBalance, LoyaltyTransaction
from servicebay.loyalty.services import points_adjust, program_create
from servicebay.messaging import services as messaging
from servicebay.messaging.consent import suppression_add
from servicebay.messaging.journeys.manage import journey_create
from servicebay.segments.services import segment_create, snapshot_take
from servicebay.shop import services as shop
from servicebay.visits import services as visits
from tests import factories
from tests.hardening.test_authorization_matrix import html_pages

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "pw-for-tests-1"

SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=1">'
SHORT_IMG = "<img src=x onerror=window.__xss=1>"
TEXTAREA = "</textarea><svg onload=window.__xss=1>"
JS_URL = "javascript:window.__xss=1"
CURLY = "{{7*7}}"
EMAIL = '"<svg/onload=window.__xss=1>"@example.com'

# Pages that are not screens: machine endpoints, downloads, Django's admin (its own escaping, its
# own tests), and the log-out action.
NOT_SCREENS = {
    "logout": "an action, not a page",
    "api:openapi-json": "JSON, not HTML",
    "api:api-root": "no page there",
    "messaging:webhook_inbound": "the provider's endpoint (JSON/TwiML)",
    "messaging:webhook_status": "the provider's endpoint",
    "loyalty:ledger_export": "a CSV download",
}

# What each screen must show as text (its objects' hostile names, notes …): URL name → strings.
SHOWN: dict[str, list[str]] = {}

# Probed in every page after it settled: what would betray an injection.
PROBE = """() => {
  const bad = [...document.querySelectorAll(
    'img[src="x"], svg[onload], [onerror], [onload], a[href^="javascript:" i], '
    + 'iframe[src^="javascript:" i], script:not([src]):not([type="application/json"])')]
    .map(e => e.outerHTML.slice(0, 120));
  const values = [...document.querySelectorAll('input, textarea')].map(e => e.value).join('\\n');
  return {xss: window.__xss, csp: window.__csp || [], bad,
          text: (document.body ? document.body.innerText : '') + '\\n' + values};
}"""

INIT = """document.addEventListener('securitypolicyviolation', e => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
window.__pending = 0;
window.__lastHtmx = 0;
const touch = () => { window.__lastHtmx = performance.now(); };
document.addEventListener('htmx:beforeRequest', () => { window.__pending++; touch(); });
document.addEventListener('htmx:afterRequest', () => { window.__pending--; touch(); });
document.addEventListener('htmx:afterSettle', touch);"""

# htmx is quiet: nothing in flight, nothing swapped for a moment (cheaper than "network idle").
SETTLED = "() => window.__pending <= 0 && performance.now() - window.__lastHtmx > 150 && performance.now() > 300"

# Post a form to an htmx partial the way the page's own hx-post would, and swap the answer in.
POST_PARTIAL = """async ([url, values]) => {
  let target = document.getElementById('xss-target');
  if (!target) {
    target = document.createElement('div');
    target.id = 'xss-target';
    document.body.appendChild(target);
  }
  target.textContent = '';
  const headers = JSON.parse(document.body.getAttribute('hx-headers') || '{}');
  await htmx.ajax('POST', url, {target: '#xss-target', swap: 'innerHTML', values, headers});
}"""

OPEN_LAZY = """() => { document.querySelectorAll('details').forEach(d => { d.open = true; }); }"""


@pytest.fixture
def hostile(transactional_db):
    """One of everything a person can write, each text field holding a hostile string."""
    actor = Actor.system("xss-setup")
    admin = factories.make_user("admin", username="xss-admin", password=PASSWORD)
    User.objects.filter(pk=admin.pk).update(first_name=IMG[:150], last_name=CURLY)
    location = factories.make_location(name=SCRIPT, address=JS_URL)
    customer = factories.make_customer(first_name=SCRIPT, last_name=SHORT_IMG, email=EMAIL,
                                       home_location=location)
    vehicle = factories.make_vehicle(customer, make=SHORT_IMG, model=TEXTAREA, plate="<b>{{7*7}}")
    template = factories.make_template(code="XSS", name=SCRIPT, category=SHORT_IMG)
    part = factories.make_part(sku="XSS-1", name=IMG)
    note = shop.note_add(customer=customer, actor=actor, body=f"{TEXTAREA} {CURLY} {JS_URL}", pinned=True)
    appointment = factories.make_appointment(vehicle=vehicle, location=location, notes=SCRIPT + IMG)

    program = program_create(actor=actor, name=SCRIPT, description=IMG, tiers={"levels": [
        {"code": "bronze", "name": SHORT_IMG, "threshold": 0},
        {"code": "gold", "name": TEXTAREA, "threshold": 50},
    ]})

    # A visit with a recommendation, a labor line and a part line, checked out and rated.
    visit = visits.visit_check_in(actor=actor, vehicle=vehicle, customer=customer, location=location,
                                  odometer_in=42100)
    card = visit.job_card
    shop.job_line_add(job_card=card, actor=actor, kind="labor", description=TEXTAREA,
                      unit_price=Decimal("120.00"))
    shop.job_line_add(job_card=card, actor=actor, kind="part", part=part, description=IMG)
    recommendation = visits.recommendation_add(visit=visit, service_template=template, actor=actor,
                                               notes=SCRIPT, measured_value=SHORT_IMG)
    for step in ("in_progress", "completed"):
        shop.job_card_transition(job_card=card, to_status=step, actor=actor)
    visit = visits.visit_check_out(visit=visit, actor=actor)
    visits.visit_rate(visit=visit, score=2, actor=actor, comment=IMG)
    visits.recommendation_decline(recommendation=recommendation, actor=actor)
    open_card = factories.make_job_card(vehicle=vehicle, location=location)
    shop.job_line_add(job_card=open_card, actor=actor, kind="fee", description=SCRIPT,
                      unit_price=Decimal("5.00"))

    points_adjust(customer=customer, program=program, points=10, reason=TEXTAREA, actor=actor)
    balance = CustomerLoyaltyBalance.objects.get(customer=customer, program=program)
    transaction_row = LoyaltyTransaction.objects.filter(balance=balance).order_by("-id").first()

    message_template = messaging.message_template_create(
        actor=actor, code="xss", name=SCRIPT, description=IMG, purpose="transactional",
        sms_body=f"Hi {{{{ customer.first_name }}}} {TEXTAREA}", email_subject=SHORT_IMG,
        email_html=f"<p>{{{{ customer.last_name }}}}</p>{SHORT_IMG}", email_text=IMG)
    journey = journey_create(actor=actor, code="xss-journey", name=SCRIPT, description=IMG, definition={
        "trigger": {"type": "birthday"},
        "steps": [{"type": "send", "template": "xss", "purpose": "transactional"}]})
    message = messaging.message_send_now(customer=customer, actor=actor, text=f"{SCRIPT} {TEXTAREA}",
                                         channel="sms")
    messaging.inbound_receive(channel="sms", from_address=customer.phone, body=IMG)
    suppression = suppression_add(channel="sms", address="+13125550000", reason="manual", actor=actor,
                                  note=SCRIPT)

    # The filter matches the hostile customer, so previews and samples list their name.
    member_filter = {"version": 1, "root": {"field": "location", "op": "in", "value": [location.pk]}}
    segment = segment_create(actor=actor, name=SCRIPT, description=IMG, filter=member_filter)
    first = snapshot_take(segment=segment, actor=actor)
    second = snapshot_take(segment=segment, actor=actor)

    ids = {
        "customer_id": customer.pk, "visit_id": visit.pk, "recommendation_id": recommendation.pk,
        "balance_id": balance.pk, "line_id": card.lines.first().pk,
        "before_id": first.pk, "after_id": second.pk,
    }
    pk_for = {
        "shop:customer": customer.pk, "shop:vehicle": customer.pk, "shop:note_add": customer.pk,
        "shop:note_pin": note.pk, "shop:appointment": appointment.pk,
        "shop:job_card": card.pk, "shop:job_line": card.pk,
        "loyalty:program": program.pk, "loyalty:transaction": transaction_row.pk,
        "loyalty:job_card": card.pk,
        "messaging:template": message_template.pk, "messaging:journey": journey.pk,
        "messaging:customer": customer.pk, "messaging:message": message.pk,
        "messaging:suppression": suppression.pk,
        "segments:": segment.pk,
    }
    tokens = {
        "visits:satisfaction_survey": visits.satisfaction_link_token(visit=visit),
        "messaging:unsubscribe": messaging._unsubscribe_url(customer, "marketing").rstrip("/").rsplit("/", 1)[-1],
    }
    # htmx partials answered to a POST (previews, forms echoing what was typed), as (URL name, URL,
    # form values, what the swapped fragment must show as text).
    posts = [
        ("segments:segment_preview", "/segments/preview/", {"filter": json.dumps(member_filter)}, [SCRIPT]),
        ("messaging:template_preview", "/messaging/templates/preview/",
         {"sms_body": "Hi {{ customer.first_name }} " + TEXTAREA, "email_subject": SHORT_IMG,
          "email_text": IMG, "preview_customer": str(customer.pk)}, [TEXTAREA, SHORT_IMG, IMG]),
        ("messaging:template_preview", "/messaging/templates/preview/", {"sms_body": "{{ " + SCRIPT}, []),
        ("messaging:template_sms_count", "/messaging/templates/sms-count/", {"sms_body": SCRIPT}, []),
        ("shop:note_add", f"/customers/{customer.pk}/notes/", {"body": SCRIPT + IMG}, [SCRIPT + IMG]),
        ("customer360:note_add", f"/customer360/{customer.pk}/notes/", {"body": IMG}, []),
        ("shop:vehicle_add", f"/customers/{customer.pk}/vehicles/",
         {"make": IMG, "model": TEXTAREA, "year": "not a year", "odometer_unit": "mi"}, [IMG, TEXTAREA]),
        ("shop:job_line_add", f"/job-cards/{open_card.pk}/lines/",
         {"kind": "fee", "description": TEXTAREA + SCRIPT, "quantity": "1", "unit_price": "1.00",
          "payer": "customer"}, [TEXTAREA + SCRIPT]),
        ("shop:job_line_add", f"/job-cards/{open_card.pk}/lines/",
         {"kind": "fee", "description": IMG, "quantity": "x"}, [IMG]),
        ("visits:recommendation_add", f"/visits/{visit.pk}/recommendations/",
         {"service_template": str(template.pk), "notes": TEXTAREA, "measured_value": "x" * 200}, [TEXTAREA]),
        ("loyalty:points_adjust", f"/loyalty/customers/{customer.pk}/adjust/",
         {"program": str(program.pk), "points": "nope", "reason": SCRIPT}, [SCRIPT]),
        ("loyalty:program_preview", "/loyalty/programs/preview/",
         {"name": SCRIPT, "accrual_rule": TEXTAREA, "tiers": IMG}, []),
        ("segments:segment_preview", "/segments/preview/", {"filter": SCRIPT}, []),
    ]
    SHOWN.clear()
    SHOWN.update({
        "shop:customer_detail": [SCRIPT, SHORT_IMG, EMAIL, TEXTAREA, f"{TEXTAREA} {CURLY} {JS_URL}"],
        "shop:customer_list": [SCRIPT, SHORT_IMG],
        "shop:customer_edit": [SCRIPT, SHORT_IMG, EMAIL],
        "shop:job_card_detail": [TEXTAREA, IMG],
        "shop:job_card_list": [SCRIPT],
        "shop:appointment_list": [SCRIPT],
        "customer360:detail": [SCRIPT, SHORT_IMG],
        "visits:timeline": [SCRIPT, SHORT_IMG],
        "visits:visit_detail": [TEXTAREA, SCRIPT, IMG],
        "loyalty:program_list": [SCRIPT],
        "loyalty:program_edit": [SCRIPT],
        "loyalty:customer_loyalty": [SCRIPT],
        "messaging:index": [SCRIPT],
        "messaging:template_edit": [SCRIPT, IMG],
        "messaging:journey_detail": [SCRIPT],
        "messaging:message_list": [SCRIPT],
        "messaging:suppression_list": [SCRIPT],
        "segments:segment_list": [SCRIPT],
        "segments:segment_detail": [SCRIPT, IMG],
        "segments:segment_edit": [SCRIPT, IMG],
    })
    return {"admin": admin, "ids": ids, "pk_for": pk_for, "tokens": tokens, "posts": posts,
            "customer_page": f"/customers/{customer.pk}/"}


def _url(route: str, name: str, world: dict) -> str:
    def value(match: re.Match) -> str:
        kind, key = match.group(1), match.group(2)
        if kind == "str":
            return world["tokens"].get(name, "not-a-token")
        if key in world["ids"]:
            return str(world["ids"][key])
        prefix = next(p for p in sorted(world["pk_for"], key=len, reverse=True) if name.startswith(p))
        return str(world["pk_for"][prefix])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route)


def _screens(client, world: dict) -> list[tuple[str, str]]:
    """(name, url) of every HTML page that answers GET for an admin."""
    found = []
    for route, name, _view in html_pages():
        if route.startswith("admin/") or name in NOT_SCREENS:
            continue
        url = _url(route, name, world)
        response = client.get(url)
        assert response.status_code < 500, f"{name} {url}: {response.status_code}"
        if response.status_code == 405 or "text/html" not in response.get("Content-Type", ""):
            continue  # a POST-only action
        found.append((name, url))
    return found


# Screens whose query string is echoed back (search boxes, filters): hostile text typed there.
ECHOING = [
    ("shop:customer_list", "/customers/?" + urlencode({"q": SCRIPT})),
    ("shop:customer_list", "/customers/?" + urlencode({"q": "<script"})),
    ("messaging:template_customer_search", "/messaging/templates/customers/?" + urlencode({"preview_q": "<script"})),
    ("shop:job_card_list", "/job-cards/?" + urlencode({"status": SCRIPT, "cursor": IMG})),
    ("visits:timeline", "/visits/customers/{customer_id}/timeline/?" + urlencode({"date_from": IMG, "vehicle": TEXTAREA})),
    ("customer360:activity", "/customer360/{customer_id}/activity/?" + urlencode({"kind": SCRIPT, "cursor": IMG})),
    ("customer360:detail", "/customer360/{customer_id}/?" + urlencode({"tab": SCRIPT})),
    ("customer360:message_form", "/customer360/{customer_id}/messages/new/?" + urlencode({"text": TEXTAREA, "channel": IMG})),
    ("customer360:appointment_form", "/customer360/{customer_id}/appointments/new/?" + urlencode({"notes": TEXTAREA})),
]


def test_hostile_text_is_shown_escaped_on_every_page(live_server, chromium, hostile, client, screenshot):
    client.force_login(hostile["admin"])
    screens = _screens(client, hostile)
    assert len(screens) >= 40, screens
    # (Named apart: a screen in another state need not show what SHOWN lists for it.)
    screens += [(f"{name} (echo)", url.format(**hostile["ids"])) for name, url in ECHOING]

    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(INIT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []
    console: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: console.append(f"page error: {exc}"))

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("xss-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: "/login/" not in u)

    started = time.monotonic()
    failures: list[str] = []
    shown_checked = 0
    for name, url in screens:
        console.clear()
        dialogs.clear()
        page.goto(live_server.url + url, wait_until="load")
        page.evaluate(OPEN_LAZY)
        page.wait_for_function(SETTLED)
        found = page.evaluate(PROBE)
        if found["xss"] is not None:
            failures.append(f"{name} {url}: script ran (window.__xss={found['xss']})")
        if dialogs:
            failures.append(f"{name} {url}: dialog {dialogs}")
        if found["bad"]:
            failures.append(f"{name} {url}: injected elements {found['bad']}")
        if found["csp"] or console:
            failures.append(f"{name} {url}: CSP {found['csp']} {console}")
        for text in SHOWN.get(name, []):
            shown_checked += 1
            if text not in found["text"]:
                failures.append(f"{name} {url}: {text!r} not shown as text")
        if found["bad"] or found["xss"] is not None:
            screenshot(page, f"xss-{name.replace(':', '-')}")
    page.goto(live_server.url + hostile["customer_page"], wait_until="load")
    for name, url, values, shown in hostile["posts"]:
        console.clear()
        dialogs.clear()
        with page.expect_response(lambda r, url=url: r.url.endswith(url)) as answer:
            page.evaluate(POST_PARTIAL, [url, values])
        page.wait_for_function(SETTLED)
        status = answer.value.status
        found = page.evaluate(PROBE)
        fragment = page.evaluate("""() => {
          const t = document.getElementById('xss-target');
          const values = [...t.querySelectorAll('input, textarea')].map(e => e.value).join('\\n');
          return t.innerText + '\\n' + values;
        }""")
        if status not in (200, 422):
            failures.append(f"POST {name} {url}: answered {status}, nothing to check")
        if found["xss"] is not None or dialogs or found["bad"] or found["csp"] or console:
            failures.append(f"POST {name} {url}: xss={found['xss']} dialogs={dialogs} "
                            f"elements={found['bad']} csp={found['csp']} {console}")
        for text in shown:
            shown_checked += 1
            if text not in fragment:
                failures.append(f"POST {name} {url}: {text!r} not shown as text")
    elapsed = time.monotonic() - started
    context.close()
    print(f"stored XSS: {len(screens)} pages and {len(hostile['posts'])} htmx POST partials checked "
          f"in {elapsed:.1f}s, {shown_checked} hostile texts asserted as text")
    missing = set(SHOWN) - {name for name, _ in screens}
    assert not missing, f"screens expected but not visited: {missing}"
    assert not failures, f"{len(failures)} problems on {len(screens)} pages:\n" + "\n".join(failures)
