"""Injection through the two places where users write something that is later executed: message
templates (Jinja2 in a sandbox) and segment filters (a JSON DSL compiled to SQL).

Every hostile input is refused when it is *saved* — through the API (422 naming the field) and
through the HTML form (inline error on the field) — and nothing is stored. What is harmless enough
to be saved renders without leaking anything, and a filter's values reach the database only as
bound parameters: the tables stay intact and quotes are matched literally.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from servicebay.messaging.models import MessageTemplate
from servicebay.messaging.templating import (
    MAX_OUTPUT,
    TemplateRenderError,
    render_html,
    render_text,
    template_validate_source,
)
from servicebay.segments.models import Segment
from servicebay.shop.models import Customer
from tests import factories

pytestmark = pytest.mark.django_db

# Every refusal must come back quickly: a save that spins is itself the attack (a nested loop over
# 10^5 characters would never finish). Generous, for a loaded two-core box.
SAVE_SECONDS = 10.0

# --- Message templates: server-side template injection ------------------------------------------

SSTI = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[2].__subclasses__()[40]('/etc/passwd').read() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__.os.environ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ self }}",
    "{{ ''|attr('__class__') }}",
    "{{ customer|attr('__class__') }}",
    "{{ customer.first_name|attr('__class__') }}",
    "{{ customer['__class__'] }}",
    "{{ customer.__class__.__init__.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ lipsum.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ request.environ }}",
    "{{ settings.SECRET_KEY }}",
    "{{ url_for.__globals__ }}",
    "{{ get_flashed_messages.__globals__ }}",
    "{{ range.__class__ }}",
    "{{ dict(a=1) }}",
    "{{ customer.first_name.format(customer) }}",
    "{{ customer.first_name.__len__() }}",
    "{{ '{0.__class__}'.format(customer) }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% from 'os' import popen %}",
    "{% extends '/etc/passwd' %}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% set x = customer.__class__ %}{{ x }}",
    "{% with x = 1 %}{{ x }}{% endwith %}",
    "{% filter upper %}{{ customer.first_name }}{% endfilter %}",
    "{% call customer.first_name() %}{% endcall %}",
    # Resource abuse: loops, exponential growth, giant values, giant numbers.
    "{% for a in 'x' * 99999 %}{% for b in 'x' * 99999 %}{% endfor %}{% endfor %}",
    "{% for a in 'x' * 999 %}{{ 'y' * 99999 }}{% endfor %}",
    "{% set a = 'x' * 99999 %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a }}",
    "{{ 'a' * 100000000 }}",
    "{{ range(10**9)|list }}",
    "{{ 10 ** 100000000 }}",
    "{{ ((10 ** 100) ** 100) ** 100 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ ('x' * 99999)|replace('x', 'x' * 99999) }}",
    "{{ ('x' * 99999)|join('x' * 99999) }}",
    "{{ ['x'] * 99999 * 99999 }}",
    "{{ [('x' * 99999)] * 99999 }}",
]

# Every payload in the SMS body, and each in one of the other template fields as well.
SSTI_FIELDS = [(payload, "sms_body") for payload in SSTI] + [
    (payload, ("email_html", "whatsapp_body", "email_text")[i % 3]) for i, payload in enumerate(SSTI)
]
BASE_TEMPLATE = {"code": "probe", "name": "Probe", "purpose": "transactional"}


def _template_payload(field: str, source: str) -> dict:
    data = {**BASE_TEMPLATE, field: source}
    if field.startswith("email_"):
        data["email_subject"] = "Hello"
    return data


@pytest.fixture
def admin_client(client):
    client.force_login(factories.make_user("admin"))
    client.get("/api/v1/segments")  # warm up: the first API call builds the router once per process
    return client


def _post_json(client, url: str, data, method: str = "post"):
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


def _field_has_inline_error(html: str, name: str) -> bool:
    """The control named ``name`` sits in a ``field--invalid`` wrapper that lists its errors."""
    control = re.search(rf'<(?:textarea|input|select)[^>]*name="{re.escape(name)}"', html)
    if control is None:
        return False
    wrapper = html.rfind('<div class="field', 0, control.start())
    end = html.find("</div>", control.end())
    return wrapper != -1 and "field--invalid" in html[wrapper:html.find(">", wrapper)] \
        and "field__error" in html[wrapper:end]


@pytest.mark.parametrize(("payload", "field"), SSTI_FIELDS)
def test_ssti_payload_is_refused_when_saved_through_the_api(admin_client, payload, field):
    started = time.monotonic()
    response = _post_json(admin_client, "/api/v1/message-templates", _template_payload(field, payload))
    assert time.monotonic() - started < SAVE_SECONDS
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert not MessageTemplate.objects.filter(code="probe").exists()


@pytest.mark.parametrize("payload", SSTI[::3])
def test_ssti_payload_is_refused_when_an_existing_template_is_changed_through_the_api(admin_client, payload):
    created = _post_json(admin_client, "/api/v1/message-templates",
                         _template_payload("sms_body", "Hi {{ customer.first_name }}"))
    assert created.status_code == 201, created.content
    url = f"/api/v1/message-templates/{created.json()['id']}"
    response = _post_json(admin_client, url, {"sms_body": payload}, method="patch")
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["body", "sms_body"]
    stored = MessageTemplate.objects.get(pk=created.json()["id"])
    assert (stored.sms_body, stored.version) == ("Hi {{ customer.first_name }}", 1)


@pytest.mark.parametrize("payload", SSTI)
def test_ssti_payload_is_refused_inline_by_the_template_form(admin_client, payload):
    form = {**BASE_TEMPLATE, "is_active": "on", "sms_body": payload}
    started = time.monotonic()
    response = admin_client.post(reverse("messaging:template_create"), form)
    assert time.monotonic() - started < SAVE_SECONDS
    assert response.status_code == 422
    html = response.content.decode()
    assert _field_has_inline_error(html, "sms_body"), html
    assert not MessageTemplate.objects.filter(code="probe").exists()


def test_ssti_payload_in_the_unsaved_preview_is_explained_not_rendered(admin_client):
    for payload in SSTI:
        started = time.monotonic()
        response = admin_client.post(reverse("messaging:template_preview"), {"sms_body": payload})
        assert time.monotonic() - started < SAVE_SECONDS, payload
        assert response.status_code == 200
        preview = response.content.decode()
        assert 'data-channel="sms"' in preview
        # The preview says what is wrong; it never shows what the payload would have produced.
        for leak in ("&lt;class", "<class", "&lt;TemplateReference", "uid=", "root:", "SECRET", "environ",
                     "xxxxxxxxxx", "0000000000"):
            assert leak not in preview, (payload, leak)


# What may be saved renders exactly as written: data is data, never template code.
# (source, the customer's first name, the rendered text)
HARMLESS = [
    ("{{ customer.first_name }}", "{{ cycler.__init__.__globals__ }}", "{{ cycler.__init__.__globals__ }}"),
    ("{{ customer.first_name }}!", "{% include '/etc/passwd' %}", "{% include '/etc/passwd' %}!"),
    ("{{ customer.first_name }}", "{{ 7*7 }}", "{{ 7*7 }}"),
    ("{{ 7*7 }}", "Ana", "49"),
    ("{{ '__class__' }}", "Ana", "__class__"),
    ("{{ '{{ config }}' }}", "Ana", "{{ config }}"),
    ("{% raw %}{{ config }}{% endraw %}", "Ana", "{{ config }}"),
    ("{% raw %}{{ ''.__class__ }}{% endraw %}", "Ana", "{{ ''.__class__ }}"),
    ("{% if customer.first_name == '{{ 7*7 }}' %}same{% else %}other{% endif %}", "{{ 7*7 }}", "same"),
    ("{% if vehicle.make in ['Toyota', 'Lexus'] %}yes{% else %}no{% endif %}", "Ana", "no"),
    ("{{ customer.first_name|replace('{', '(') }}", "{{ 7*7 }}", "(( 7*7 }}"),
    ("{{ customer.first_name|upper }}", "{{ self }}", "{{ SELF }}"),
]


@pytest.mark.parametrize(("source", "first_name", "expected"), HARMLESS)
def test_a_template_that_may_be_saved_renders_without_leaking(source, first_name, expected):
    template_validate_source(source, field="sms_body")
    context = {"customer": {"first_name": first_name}, "vehicle": {"make": "BMW"}}
    assert render_text(source, context) == expected


def test_html_templates_escape_hostile_customer_data():
    context = {"customer": {"first_name": '"><img src=x onerror="window.__xss=1"><script>1</script>'}}
    out = render_html("<p title=\"{{ customer.first_name }}\">Hi {{ customer.first_name }}</p>", context)
    assert "<img" not in out and "<script>" not in out
    assert "&lt;script&gt;" in out and "&#34;&gt;&lt;img" in out


@pytest.mark.parametrize("source", [
    "{% for a in 'x' * 99999 %}{% for b in 'x' * 99999 %}{% endfor %}{% endfor %}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% set a = 'x' * 99999 %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a }}",
    "{% include '/etc/passwd' %}",
])
def test_a_stored_template_that_skipped_validation_is_still_refused_when_sent(source):
    # A row written around the services (data migration, restore) gets no further at send time.
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match="Not allowed"):
        render_text(source, {"customer": {"first_name": "A"}})
    assert time.monotonic() - started < SAVE_SECONDS


def test_rendering_stops_at_the_output_limit_without_building_the_whole_message():
    piece = "{{ 'x' * 99999 }}"
    source = piece * 3  # three values each under the bound: the total is what is refused
    with pytest.raises(TemplateRenderError, match=r"too long|too much"):
        render_text(source, {})
    assert len(render_text("{{ 'x' * 1000 }}", {})) == 1000 < MAX_OUTPUT
    # Values built and thrown away count too: five big ones, each only measured, are refused.
    with pytest.raises(TemplateRenderError, match="builds too much"):
        render_text("{{ ('x' * 99999)|length }}" * 5, {})


# --- Segment filters: DSL injection ---------------------------------------------------------------

SQL_TEXT = [
    "name'; DROP TABLE shop_customer;--",
    "1) OR (1=1",
    "x' OR '1'='1",
    "Toyota\x00' OR 1=1 --",
    "Toyota\x00",
    "\u202eatoyoT",  # right-to-left override
    "".join(chr(ord(c) + 0xFEE0) for c in "Toyota';DROP"),  # full-width look-alikes
    "Toyota%",
    "%",
    "a" * 10_000,
]

FIELD_NAMES = [
    "customer__user__password", "user__password", "owner__password", "stats__lifetime_spend",
    "vehicles__customer__email", "apikey__key_hash", "api_keys__hash", "staff__is_superuser",
    "pk", "id) OR (1=1", "lifetime_spend__gt", "lifetime_spend; DROP TABLE auth_user", "__class__",
]


def _filter(root) -> dict:
    return {"version": 1, "root": root}


def _dsl_attacks() -> list[tuple[str, dict]]:
    attacks: list[tuple[str, dict]] = []
    for text in SQL_TEXT:
        attacks += [
            (f"make:{text[:20]!r}", {"field": "vehicle", "make": text}),
            (f"tier:{text[:20]!r}", {"field": "loyalty_tier", "op": "in", "value": [text]}),
            (f"op:{text[:20]!r}", {"field": "visit_count", "op": text, "value": 1}),
            (f"money:{text[:20]!r}", {"field": "lifetime_spend", "op": "gte", "value": text}),
            (f"date:{text[:20]!r}", {"field": "created", "op": "before", "value": text}),
        ]
    for name in FIELD_NAMES:
        attacks += [
            (f"field:{name}", {"field": name, "op": "gt", "value": 1}),
            (f"key:{name}", {"field": "vehicle", "make": "Toyota", name: "x"}),
        ]
    attacks += [
        ("orm-lookup-op", {"field": "lifetime_spend", "op": "regex", "value": ".*"}),
        ("orm-lookup-op2", {"field": "lifetime_spend", "op": "gte__in", "value": "1"}),
        ("lookup-in-key", {"field": "vehicle", "make__regex": ".*"}),
        ("value-object", {"field": "lifetime_spend", "op": "gte", "value": {"__gt": 0}}),
        ("value-list-sql", {"field": "location", "op": "in", "value": ["1) OR (1=1"]}),
        ("location-raw", {"field": "location", "op": "in", "value": [1], "scope": "home OR 1=1"}),
        ("huge-number", {"field": "loyalty_points", "op": "gt", "value": 10 ** 30}),
        ("nan", {"field": "lifetime_spend", "op": "gt", "value": "NaN"}),
        ("negative-money", {"field": "lifetime_spend", "op": "gt", "value": "-1"}),
        ("unknown-group", {"or": [{"field": "visit_count", "op": "gt", "value": 1}]}),
        ("raw-sql-group", {"sql": "1=1"}),
        ("list-root", [{"field": "visit_count", "op": "gt", "value": 1}]),
        ("string-root", "visit_count > 1"),
        ("too-many", {"all": [{"field": "visit_count", "op": "gt", "value": i} for i in range(500)]}),
    ]
    deep: dict = {"field": "visit_count", "op": "gt", "value": 1}
    for _ in range(50):
        deep = {"not": deep}
    attacks.append(("deep-50", deep))
    return attacks


DSL_ATTACKS = _dsl_attacks()


def _table_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        found = {}
        for table in ("shop_customer", "auth_user", "core_apikey", "segments_segment"):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # fixed table names, no input
            found[table] = cursor.fetchone()[0]
    return found


@pytest.fixture
def shop_data(db):
    customer = factories.make_customer(first_name="Ana")
    factories.make_vehicle(customer, make="Toyota", model="Camry")
    factories.make_api_key("read")
    return customer


@pytest.mark.parametrize(("name", "root"), DSL_ATTACKS, ids=[a[0] for a in DSL_ATTACKS])
def test_dsl_injection_is_refused_by_the_api_and_nothing_runs(admin_client, shop_data, name, root):
    before = _table_counts()
    created = _post_json(admin_client, "/api/v1/segments", {"name": "Probe", "filter": _filter(root)})
    preview = _post_json(admin_client, "/api/v1/segments/preview", {"filter": _filter(root)})
    for response in (created, preview):
        assert response.status_code == 422, (name, response.content)
        loc = response.json()["detail"][0]["loc"]
        assert loc[:2] == ["body", "filter"], loc
    assert _table_counts() == before
    assert not Segment.objects.exists()


@pytest.mark.parametrize(("name", "root"), DSL_ATTACKS[::3], ids=[a[0] for a in DSL_ATTACKS[::3]])
def test_dsl_injection_is_refused_inline_by_the_segment_form(admin_client, shop_data, name, root):
    before = _table_counts()
    response = admin_client.post(reverse("segments:segment_create"),
                                 {"name": "Probe", "filter": json.dumps(_filter(root))})
    assert response.status_code == 422
    html = response.content.decode()
    assert _field_has_inline_error(html, "filter"), html
    preview = admin_client.post(reverse("segments:segment_preview"), {"filter": json.dumps(_filter(root))})
    assert preview.status_code == 422
    assert 'id="preview-errors"' in preview.content.decode()
    assert _table_counts() == before
    assert not Segment.objects.exists()


def test_an_existing_segment_keeps_its_filter_when_an_injection_is_patched_in(admin_client, shop_data):
    good = _filter({"field": "vehicle", "make": "Toyota"})
    created = _post_json(admin_client, "/api/v1/segments", {"name": "Toyotas", "filter": good})
    assert created.status_code == 201, created.content
    url = f"/api/v1/segments/{created.json()['id']}"
    for _, root in DSL_ATTACKS[::5]:
        response = _post_json(admin_client, url, {"filter": _filter(root)}, method="patch")
        assert response.status_code == 422, response.content
    segment = Segment.objects.get()
    assert (segment.filter["root"], segment.filter_version) == ({"field": "vehicle", "op": "has", "make": "Toyota"}, 1)


@pytest.mark.parametrize("depth", [200, 900, 5_000])
def test_a_filter_nested_far_beyond_the_limit_is_a_422_not_a_crash(admin_client, shop_data, depth):
    body = '{"name": "Deep", "filter": {"version": 1, "root": ' + '{"not": ' * depth \
        + '{"field": "visit_count", "op": "gt", "value": 1}' + "}" * depth + "}}"
    started = time.monotonic()
    response = admin_client.post("/api/v1/segments", body, content_type="application/json")
    assert time.monotonic() - started < SAVE_SECONDS
    assert response.status_code in (400, 422), response.status_code
    form = admin_client.post(reverse("segments:segment_create"),
                             {"name": "Deep", "filter": body[body.index('{"version"'):-1]})
    assert form.status_code == 422
    assert _field_has_inline_error(form.content.decode(), "filter")
    assert not Segment.objects.exists()


def test_a_huge_filter_is_refused_quickly(admin_client, shop_data):
    many = {"any": [{"field": "vehicle", "make": f"Make{i}"} for i in range(20_000)]}
    started = time.monotonic()
    response = _post_json(admin_client, "/api/v1/segments", {"name": "Huge", "filter": _filter(many)})
    assert time.monotonic() - started < SAVE_SECONDS
    assert response.status_code in (400, 413, 422)
    assert not Segment.objects.exists()


@pytest.mark.parametrize("where", ["name", "description"])
@pytest.mark.parametrize("text", ["Probe\x00", "'; DROP TABLE segments_segment;--"])
def test_segment_texts_are_stored_literally_or_refused_never_executed(admin_client, shop_data, where, text):
    before = _table_counts()
    data = {"name": "Probe", "filter": _filter({"field": "vehicle", "make": "Toyota"}), where: text}
    response = _post_json(admin_client, "/api/v1/segments", data)
    if "\x00" in text:
        # PostgreSQL cannot store a NUL character: refused on the field, on every database alike.
        assert response.status_code == 422, response.content
        assert response.json()["detail"][0]["loc"] == ["body", where]
        assert _table_counts() == before
        return
    assert response.status_code == 201, response.content
    assert getattr(Segment.objects.get(), where) == text
    assert _table_counts() == {**before, "segments_segment": before["segments_segment"] + 1}


LITERALS = [
    ("O'Neil Motors", ["ONeil Motors", "O Neil Motors", "O''Neil Motors"]),
    ("Mc_Laren", ["McxLaren", "Mc-Laren"]),
    ("Škoda", ["Skoda"]),
    ("トヨタ", ["トヨ"]),
    ("Rolls-Royce & Co. 1/2", ["Rolls-Royce"]),
]


@pytest.mark.parametrize(("make", "decoys"), LITERALS, ids=[m for m, _ in LITERALS])
def test_legit_values_with_quotes_and_wildcards_are_matched_literally(admin_client, make, decoys):
    wanted = factories.make_customer(first_name="Wanted")
    factories.make_vehicle(wanted, make=make, model="Quoted")
    for decoy in decoys:
        factories.make_vehicle(factories.make_customer(first_name="Decoy"), make=decoy, model="Quoted")
    root = {"field": "vehicle", "make": make}
    preview = _post_json(admin_client, "/api/v1/segments/preview",
                         {"filter": _filter(root), "as_of": timezone.now().isoformat()})
    assert preview.status_code == 200, preview.content
    assert [m["id"] for m in preview.json()["sample"]] == [wanted.pk]
    tier = _post_json(admin_client, "/api/v1/segments/preview",
                      {"filter": _filter({"field": "loyalty_tier", "op": "in", "value": [make]})})
    assert tier.status_code == 200 and tier.json()["count"] == 0
    assert Customer.objects.count() == 1 + len(decoys)

