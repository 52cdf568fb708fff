import json
from decimal import Decimal

import pytest

from servicebay.loyalty.models import LoyaltyProgram, LoyaltyTransaction
from servicebay.loyalty.services import points_adjust
from servicebay.shop.choices import JobCardStatus
from tests import factories

from .conftest import ACCRUAL, REDEMPTION, SYSTEM, TIERS, balance_of, card_with_lines


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def program_post(**overrides):
    data = {"name": "Rewards", "currency": "usd", "is_active": "on", "description": "",
            "accrual_rule": json.dumps(ACCRUAL), "redemption_rule": json.dumps(REDEMPTION),
            "tiers": json.dumps(TIERS)}
    return {**data, **overrides}


def test_manager_creates_a_program_from_the_editor(manager_client):
    r = manager_client.post("/loyalty/programs/new/", program_post())
    program = LoyaltyProgram.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/loyalty/programs/{program.pk}/"
    assert (program.currency, program.current_version.number) == ("USD", 1)


def test_editor_shows_rule_errors_inline_under_their_box(manager_client):
    r = manager_client.post("/loyalty/programs/new/", program_post(
        accrual_rule='{"points_per_unit": -2}', redemption_rule='{"step": 0,}'))
    assert r.status_code == 422
    body = r.content.decode()
    assert "points_per_unit: Input should be greater than or equal to 0" not in body  # JSON error first
    assert "This is not valid JSON" in body
    assert not LoyaltyProgram.objects.exists()
    r = manager_client.post("/loyalty/programs/new/", program_post(accrual_rule='{"points_per_unit": -2}'))
    assert r.status_code == 422
    assert "points_per_unit: Input should be greater than or equal to 0" in r.content.decode()
    assert 'aria-invalid="true"' in r.content.decode()


def test_saving_changed_rules_makes_a_new_version(manager_client, program):
    r = manager_client.post(f"/loyalty/programs/{program.pk}/", program_post(
        name=program.name, accrual_rule=json.dumps({**ACCRUAL, "points_per_unit": "2"})))
    assert r.status_code == 302
    program.refresh_from_db()
    assert program.current_version.number == 2
    assert program.versions.count() == 2


def test_live_preview_says_what_an_invoice_would_earn(manager_client):
    data = program_post(accrual_rule=json.dumps({**ACCRUAL, "category_multipliers": {"Tires": "2"}}),
                        labor="100.00", parts="20.00", fees="0", discount="0", category="Tires", tier="")
    r = manager_client.post("/loyalty/programs/preview/", data, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert "This invoice would earn <strong>220</strong> points" in r.content.decode()


def test_live_preview_lists_rule_errors_instead(manager_client):
    data = program_post(redemption_rule='{"value_per_point": 0}', labor="100.00")
    r = manager_client.post("/loyalty/programs/preview/", data, HTTP_HX_REQUEST="true")
    assert "redemption_rule.value_per_point: Input should be greater than 0" in r.content.decode()


def test_advisor_cannot_open_the_program_editor(advisor_client, program):
    assert advisor_client.get("/loyalty/programs/new/").status_code == 403
    assert advisor_client.get(f"/loyalty/programs/{program.pk}/").status_code == 403
    assert advisor_client.get("/loyalty/").status_code == 200


def test_technician_cannot_see_loyalty(client, technician, program):
    client.force_login(technician)
    assert client.get("/loyalty/").status_code == 403


def test_anonymous_visitor_is_sent_to_login(client):
    r = client.get("/loyalty/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_customer_page_shows_balance_tier_and_why_each_row(advisor_client, program, customer):
    card = card_with_lines(customer, ("labor", "37.40"), status=JobCardStatus.COMPLETED)
    r = advisor_client.get(f"/loyalty/customers/{customer.pk}/")
    body = r.content.decode()
    assert r.status_code == 200
    assert 'data-testid="loyalty-balance">37<' in body
    assert "463 points to Silver" in body
    row = LoyaltyTransaction.objects.get(type="earn")
    r = advisor_client.get(f"/loyalty/transactions/{row.pk}/", HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert f"Earned 37 points on job card {card.display_number}" in body
    assert "$37.40" in body and "rounded down: 37 points" in body
    assert "Rules version 1" in body


def test_advisor_sees_no_adjustment_form_and_cannot_post_one(advisor_client, program, customer):
    r = advisor_client.get(f"/loyalty/customers/{customer.pk}/")
    assert "Adjust points" not in r.content.decode()
    r = advisor_client.post(f"/loyalty/customers/{customer.pk}/adjust/",
                            {"program": program.pk, "points": 50, "reason": "Because"})
    assert r.status_code == 403
    assert balance_of(customer, program) is None


def test_manager_adjusts_points_with_a_reason(manager_client, program, customer):
    r = manager_client.post(f"/loyalty/customers/{customer.pk}/adjust/",
                            {"program": program.pk, "points": 50, "reason": "Goodwill after delay"},
                            HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    row = LoyaltyTransaction.objects.get()
    assert (row.points, row.notes, row.reference_type) == (50, "Goodwill after delay", "manual")


def test_adjustment_without_a_reason_shows_an_inline_error(manager_client, program, customer):
    r = manager_client.post(f"/loyalty/customers/{customer.pk}/adjust/",
                            {"program": program.pk, "points": 50, "reason": ""}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422
    assert "This field is required" in r.content.decode()
    assert not LoyaltyTransaction.objects.exists()


def test_adjustment_that_overdraws_shows_an_inline_error(manager_client, program, customer):
    r = manager_client.post(f"/loyalty/customers/{customer.pk}/adjust/",
                            {"program": program.pk, "points": -5, "reason": "Oops"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422
    assert "holds no points" in r.content.decode()


def test_advisor_redeems_on_a_job_card_from_the_form(advisor_client, program, customer):
    points_adjust(customer=customer, program=program, points=800, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    page = advisor_client.get(f"/loyalty/job-cards/{card.pk}/")
    assert 'data-testid="redeem-available">800 points' in page.content.decode()
    r = advisor_client.post(f"/loyalty/job-cards/{card.pk}/", {"points": 300})
    assert r.status_code == 302
    card.refresh_from_db()
    assert card.total == Decimal("97.00")
    assert balance_of(customer, program).points_balance == 500


def test_redeem_form_over_the_balance_shows_an_inline_error(advisor_client, program, customer):
    points_adjust(customer=customer, program=program, points=100, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    r = advisor_client.post(f"/loyalty/job-cards/{card.pk}/", {"points": 300}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422
    assert "Only 100 points are available." in r.content.decode()


def test_redeem_by_htmx_reloads_the_page_it_came_from(advisor_client, program, customer):
    points_adjust(customer=customer, program=program, points=100, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    r = advisor_client.post(f"/loyalty/job-cards/{card.pk}/",
                            {"points": 50, "next": f"/job-cards/{card.pk}/"}, HTTP_HX_REQUEST="true")
    assert r["HX-Redirect"] == f"/job-cards/{card.pk}/"


def test_redeem_ignores_a_next_url_on_another_site(advisor_client, program, customer):
    points_adjust(customer=customer, program=program, points=100, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    r = advisor_client.post(f"/loyalty/job-cards/{card.pk}/", {"points": 50, "next": "https://evil.example/"})
    assert r["Location"] == f"/loyalty/job-cards/{card.pk}/"


def test_technician_cannot_redeem(client, technician, program, customer):
    client.force_login(technician)
    card = card_with_lines(customer, ("labor", "100.00"))
    assert client.post(f"/loyalty/job-cards/{card.pk}/", {"points": 1}).status_code == 403


def test_redeem_panel_renders_inside_another_template(rf, advisor, program, customer):
    from django.template import Context, Template

    points_adjust(customer=customer, program=program, points=100, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    request = rf.get(f"/job-cards/{card.pk}/")
    request.user, request.htmx = advisor, False
    html = Template('{% include "loyalty/partials/redeem_form.html" %}').render(
        Context({"card": card, "request": request}))
    assert 'id="loyalty-redeem"' in html
    assert f'value="/job-cards/{card.pk}/"' in html


def test_customer_panel_renders_for_customer_360(rf, advisor, program, customer):
    from django.template import Context, Template

    request = rf.get("/")
    request.user, request.htmx = advisor, False
    html = Template('{% include "loyalty/partials/customer_panel.html" %}').render(
        Context({"customer": customer, "request": request}))
    assert program.name in html and "Not a member yet" in html


def test_liability_report_values_outstanding_points(manager_client, program, customer):
    points_adjust(customer=customer, program=program, points=1234, reason="Welcome", actor=SYSTEM)
    r = manager_client.get("/loyalty/reports/liability/")
    assert r.status_code == 200
    assert 'data-testid="liability-total">$12.34<' in r.content.decode()


def test_ledger_csv_export_streams_every_row(manager_client, program, customer):
    other = factories.make_customer()
    for who in (customer, other):
        points_adjust(customer=who, program=program, points=10, reason="Welcome, friend", actor=SYSTEM)
    r = manager_client.get("/loyalty/ledger.csv")
    assert r.streaming and r["Content-Type"].startswith("text/csv")
    lines = b"".join(r.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,created_at,program,customer_id")
    assert len(lines) == 3 and '"Welcome, friend"' in lines[1]
    r = manager_client.get(f"/loyalty/ledger.csv?customer={other.pk}")
    assert len(b"".join(r.streaming_content).decode().splitlines()) == 2


def test_advisor_cannot_export_the_ledger(advisor_client):
    assert advisor_client.get("/loyalty/ledger.csv").status_code == 403
    assert advisor_client.get("/loyalty/reports/liability/").status_code == 403


def test_customer_page_queries_do_not_grow_with_the_ledger(advisor_client, program, customer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert advisor_client.get(f"/loyalty/customers/{customer.pk}/").status_code == 200
        return len(captured)

    points_adjust(customer=customer, program=program, points=10, reason="First", actor=SYSTEM)
    few = queries()
    for n in range(30):
        points_adjust(customer=customer, program=program, points=1, reason=f"More {n}", actor=SYSTEM)
    assert queries() == few


def test_older_ledger_rows_load_page_by_page(advisor_client, program, customer):
    for n in range(25):
        points_adjust(customer=customer, program=program, points=1, reason=f"Row {n}", actor=SYSTEM)
    page = advisor_client.get(f"/loyalty/customers/{customer.pk}/").content.decode()
    assert page.count('data-testid="ledger-row"') == 20
    balance = balance_of(customer, program)
    start = page.index(f"/loyalty/balances/{balance.pk}/ledger/?cursor=")
    url = page[start:page.index('"', start)].replace("&amp;", "&")
    more = advisor_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert more.count('data-testid="ledger-row"') == 5 and "Row 0" in more
