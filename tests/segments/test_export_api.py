"""The export API: scopes, consent, PII, formats, pagination over a snapshot, the export log."""

import csv
import hashlib
import io
import json

import pytest
from django.test import Client

from servicebay.core.services import api_key_create
from servicebay.segments import services
from servicebay.segments.choices import ExportStatus
from servicebay.segments.models import ExportLog
from servicebay.shop import services as shop
from tests import factories
from tests.factories import SYSTEM
from tests.segments.helpers import consent

pytestmark = pytest.mark.django_db

EVERYONE = {"root": {"field": "created", "op": "before", "value": "2999-01-01"}}


@pytest.fixture
def segment(population):
    segment = services.segment_create(actor=SYSTEM, name="everyone", filter=EVERYONE)
    services.snapshot_take(segment=segment, actor=SYSTEM)
    return segment


def _client(*scopes: str) -> Client:
    _, key = api_key_create(name="tool", scopes=list(scopes))
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def _get(client, segment, **params):
    return client.get(f"/api/v1/segments/{segment.pk}/members", params)


def _all_pages(client, segment, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = _get(client, segment, **query).json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


def test_a_key_without_the_export_scope_gets_403(segment):
    response = _get(_client("read"), segment, channel="email", purpose="marketing")
    assert response.status_code == 403


def test_channel_and_purpose_are_required(segment):
    client = _client("export")
    assert _get(client, segment, purpose="marketing").status_code == 422
    assert _get(client, segment, channel="email").status_code == 422
    assert _get(client, segment, channel="fax", purpose="marketing").status_code == 422


def test_only_opted_in_unsuppressed_contacts_are_returned(segment, population):
    client = _client("export")
    email = _all_pages(client, segment, channel="email", purpose="marketing", limit=1)
    assert {row["customer_id"] for row in email} == population.ids("alice")
    sms = _all_pages(client, segment, channel="sms", purpose="marketing")
    assert {row["customer_id"] for row in sms} == population.ids("bob")


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson"])
def test_opted_out_customers_never_appear_in_any_format(segment, population, fmt):
    client = _client("export", "pii")
    response = _get(client, segment, channel="email", purpose="marketing", format=fmt,
                    fields="customer_id,email,first_name")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode()
    for name in ("bob", "dave", "erin", "frank", "carol"):
        assert population.people[name].email not in text or not population.people[name].email
    assert population.people["alice"].email in text


def test_without_pii_the_email_is_hashed_and_raw_email_is_refused(segment, population):
    client = _client("export")
    body = _get(client, segment, channel="email", purpose="marketing").json()
    alice = population.people["alice"]
    assert body["fields"] == ["email_sha256", "first_name", "last_name", "customer_id"]
    assert body["items"][0]["email_sha256"] == hashlib.sha256(alice.email.lower().encode()).hexdigest()
    refused = _get(client, segment, channel="email", purpose="marketing", fields="email")
    assert refused.status_code == 403
    assert "pii" in refused.json()["detail"][0]["msg"]


def test_with_the_pii_scope_raw_email_is_exported(segment, population):
    body = _get(_client("export", "pii"), segment, channel="email", purpose="marketing").json()
    assert body["items"][0]["email"] == population.people["alice"].email


def test_unknown_field_is_a_422(segment):
    response = _get(_client("export"), segment, channel="email", purpose="marketing", fields="salary")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "fields"


def test_csv_streams_with_neutralised_formula_cells(segment, population):
    alice = population.people["alice"]
    shop.customer_update(customer=alice, actor=SYSTEM, first_name="=HYPERLINK(\"http://x\")",
                         last_name="@SUM(A1)")
    response = _get(_client("export", "pii"), segment, channel="email", purpose="marketing",
                    format="csv", fields="customer_id,email,first_name,last_name,lifetime_spend")
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["customer_id", "email", "first_name", "last_name", "lifetime_spend"]
    assert rows[1][2] == "'=HYPERLINK(\"http://x\")"
    assert rows[1][3] == "'@SUM(A1)"
    assert rows[1][4] == "600.00"


def test_csv_keeps_phone_numbers_intact(segment, population):
    response = _get(_client("export", "pii"), segment, channel="sms", purpose="marketing",
                    format="csv", fields="phone_number")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1] == [population.people["bob"].phone]


def test_mailchimp_header_style(segment):
    response = _get(_client("export", "pii"), segment, channel="email", purpose="marketing",
                    format="csv", fields="email,first_name", header="mailchimp")
    first = b"".join(response.streaming_content).decode().splitlines()[0]
    assert first == "Email Address,First Name"


def test_ndjson_is_one_object_per_line(segment, population):
    response = _get(_client("export"), segment, channel="sms", purpose="marketing", format="ndjson")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["customer_id"] for line in lines] == [population.people["bob"].pk]


def test_pages_stay_on_their_snapshot_while_customers_change(segment, population):
    newcomers = []
    for _ in range(4):
        c = factories.make_customer()
        consent(c, "email", "marketing")
        newcomers.append(c)
    snapshot = services.snapshot_take(segment=segment, actor=SYSTEM)
    client = _client("export")
    first = _get(client, segment, channel="email", purpose="marketing", limit=2).json()
    # Underneath: a new snapshot with another member, a rename, a member who leaves by deletion.
    late = factories.make_customer()
    consent(late, "email", "marketing")
    services.snapshot_take(segment=segment, actor=SYSTEM)
    shop.customer_update(customer=newcomers[0], actor=SYSTEM, first_name="Changed")
    rest = []
    cursor = first["next_cursor"]
    while cursor:
        page = _get(client, segment, channel="email", purpose="marketing", limit=2, cursor=cursor).json()
        assert page["snapshot_id"] == snapshot.pk
        rest += page["items"]
        cursor = page["next_cursor"]
    ids = [row["customer_id"] for row in first["items"] + rest]
    assert len(ids) == len(set(ids))
    assert set(ids) == population.ids("alice") | {c.pk for c in newcomers}
    assert late.pk not in ids


def test_a_tampered_cursor_is_a_422(segment):
    client = _client("export")
    response = _get(client, segment, channel="email", purpose="marketing", cursor="abc.def")
    assert response.status_code == 422


def test_a_cursor_cannot_be_replayed_for_another_channel(segment, population):
    for _ in range(2):
        c = factories.make_customer()
        consent(c, "email", "marketing")
    services.snapshot_take(segment=segment, actor=SYSTEM)
    client = _client("export")
    cursor = _get(client, segment, channel="email", purpose="marketing", limit=1).json()["next_cursor"]
    assert _get(client, segment, channel="sms", purpose="marketing", cursor=cursor).status_code == 422


def test_every_export_is_logged(segment, population):
    _, key = api_key_create(name="mailchimp", scopes=["export"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    _get(client, segment, channel="email", purpose="marketing")
    response = _get(client, segment, channel="sms", purpose="marketing", format="csv",
                    fields="customer_id,phone_sha256")
    b"".join(response.streaming_content)
    page_log, stream_log = ExportLog.objects.order_by("id")
    assert (page_log.format, page_log.rows, page_log.channel, page_log.purpose) == ("json", 1, "email", "marketing")
    assert page_log.api_key.name == "mailchimp"
    assert page_log.filter == segment.filter
    assert (stream_log.format, stream_log.rows, stream_log.status) == ("csv", 1, ExportStatus.COMPLETED)
    assert stream_log.fields == ["customer_id", "phone_sha256"]
    assert stream_log.snapshot_id == segment.snapshots.order_by("-id").first().pk
    assert stream_log.pii is False


def test_a_segment_without_snapshot_is_a_409(population):
    segment = services.segment_create(actor=SYSTEM, name="fresh", filter=EVERYONE)
    assert _get(_client("export"), segment, channel="email", purpose="marketing").status_code == 409


def test_marketing_staff_can_export_with_a_session(segment, client):
    client.force_login(factories.make_user("marketing"))
    response = _get(client, segment, channel="email", purpose="marketing", fields="email")
    assert response.status_code == 200
    assert ExportLog.objects.get().user is not None
    client.force_login(factories.make_user("advisor"))
    assert _get(client, segment, channel="email", purpose="marketing").status_code == 403


def test_segment_crud_and_preview_over_the_api(population, client):
    client.force_login(factories.make_user("marketing"))
    created = client.post("/api/v1/segments", {"name": "Toyota", "filter": {
        "root": {"field": "vehicle", "make": "Toyota"}}}, content_type="application/json")
    assert created.status_code == 201, created.content
    segment_id = created.json()["id"]
    preview = client.post("/api/v1/segments/preview", {"filter": {
        "root": {"field": "lifetime_spend", "op": "gte", "value": "500"}}}, content_type="application/json")
    assert preview.json()["count"] == 2
    bad = client.post("/api/v1/segments/preview", {"filter": {
        "root": {"field": "vehicle", "make": "x'; DROP TABLE shop_customer;--"}}},
        content_type="application/json")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "filter", "root", "make"]
    snap = client.post(f"/api/v1/segments/{segment_id}/snapshots", {}, content_type="application/json")
    assert snap.status_code == 201 and snap.json()["member_count"] == 2
    alice = population.people["alice"]
    why = client.get(f"/api/v1/segments/{segment_id}/explain/{alice.pk}").json()
    assert why["member"] is True
    assert why["explanation"]["actual"].startswith("2018 Toyota Camry")
    assert client.get("/api/v1/segments/999999").status_code == 404
