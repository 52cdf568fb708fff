"""The segment screens: permissions, the live builder, explainer, diff, import, download."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from servicebay.segments import services
from servicebay.segments.models import ExportLog, Segment
from tests import factories
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db

TOYOTA = {"version": 1, "root": {"field": "vehicle", "make": "Toyota"}}


@pytest.fixture
def marketing(client):
    client.force_login(factories.make_user("marketing"))
    return client


@pytest.fixture
def toyota(population):
    segment = services.segment_create(actor=SYSTEM, name="Toyota owners", filter=TOYOTA)
    services.snapshot_take(segment=segment, actor=SYSTEM)
    return segment


@pytest.mark.parametrize("url", ["/segments/", "/segments/new/", "/segments/import/"])
def test_pages_need_the_segments_permission(client, url):
    client.force_login(factories.make_user("technician"))
    assert client.get(url).status_code == 403


def test_list_and_detail_render(marketing, toyota):
    assert "Toyota owners" in marketing.get("/segments/").content.decode()
    page = marketing.get(f"/segments/{toyota.pk}/").content.decode()
    assert "Count history" in page and "<svg" in page and "<script" not in page.split("</head>")[1]


def test_builder_preview_counts_and_samples(marketing, population):
    response = marketing.post("/segments/preview/", {"filter": json.dumps(TOYOTA)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-count="2"' in html
    assert population.people["alice"].full_name in html


def test_builder_preview_shows_filter_errors_inline(marketing, population):
    bad = {"root": {"field": "visit_count", "op": "gt", "value": "lots"}}
    response = marketing.post("/segments/preview/", {"filter": json.dumps(bad)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "filter.root.value" in response.content.decode()
    broken = marketing.post("/segments/preview/", {"filter": "{not json"}, HTTP_HX_REQUEST="true")
    assert "Not valid JSON" in broken.content.decode()


def test_saving_a_segment_from_the_builder(marketing, population):
    response = marketing.post("/segments/new/", {"name": "Toyotas", "filter": json.dumps(TOYOTA)})
    segment = Segment.objects.get(name="Toyotas")
    assert response.status_code == 302 and response["Location"] == f"/segments/{segment.pk}/"
    assert segment.last_count == 2


def test_saving_an_invalid_filter_keeps_the_form_with_errors(marketing, population):
    response = marketing.post("/segments/new/", {"name": "x", "filter": '{"root": {"field": "nope"}}'})
    assert response.status_code == 422
    assert "does not match any of the expected tags" in response.content.decode()


def test_explainer_partial(marketing, toyota, population):
    bob = population.people["bob"]
    response = marketing.get(f"/segments/{toyota.pk}/explain/", {"customer_id": bob.pk},
                             HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "out of" in html and "2010 Honda Civic" in html
    missing = marketing.get(f"/segments/{toyota.pk}/explain/", {"customer_id": 999999}, HTTP_HX_REQUEST="true")
    assert missing.status_code == 422


def test_snapshot_and_diff_pages(marketing, toyota, population):
    services.segment_update(segment=toyota, actor=SYSTEM,
                            filter={"root": {"field": "lifetime_spend", "op": "gte", "value": "500"}})
    assert marketing.post(f"/segments/{toyota.pk}/snapshots/").status_code == 302
    before, after = toyota.snapshots.order_by("id")
    html = marketing.get(f"/segments/{toyota.pk}/snapshots/{before.pk}/diff/{after.pk}/").content.decode()
    assert population.people["erin"].full_name in html  # entered
    assert population.people["dave"].full_name in html  # exited


def test_download_streams_a_logged_csv(marketing, toyota, population):
    response = marketing.get(f"/segments/{toyota.pk}/export/",
                             {"channel": "email", "purpose": "marketing", "format": "csv",
                              "header": "standard", "fields": ["customer_id", "email"]})
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines == ["customer_id,email", f"{population.people['alice'].pk},{population.people['alice'].email}"]
    assert ExportLog.objects.get().rows == 1


def test_import_page_creates_a_static_segment(marketing, population):
    upload = SimpleUploadedFile("list.csv", f"email\n{population.people['bob'].email}\n".encode())
    response = marketing.post("/segments/import/", {"name": "From CSV", "file": upload})
    assert response.status_code == 302
    assert Segment.objects.get(name="From CSV").last_count == 1


def test_warehouse_page_for_managers_only(client):
    client.force_login(factories.make_user("marketing"))
    assert client.get("/warehouse/").status_code == 403
    client.force_login(factories.make_user("manager"))
    page = client.get("/warehouse/")
    assert page.status_code == 200 and "customers" in page.content.decode()
    assert client.post("/warehouse/sync/").status_code == 403
