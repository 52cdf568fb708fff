import json

import pytest

from servicebay.loyalty.models import LoyaltyTransaction
from servicebay.loyalty.services import points_adjust
from servicebay.shop.choices import JobCardStatus
from tests import factories

from .conftest import ACCRUAL, REDEMPTION, SYSTEM, TIERS, card_with_lines


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


PROGRAM = {"name": "Bay Rewards", "currency": "USD", "accrual_rule": ACCRUAL,
           "redemption_rule": REDEMPTION, "tiers": TIERS}


def test_manager_creates_reads_and_updates_a_program(manager_client):
    r = post(manager_client, "/api/v1/loyalty/programs", PROGRAM)
    assert r.status_code == 201, r.content
    program = r.json()
    assert program["version"] == 1 and program["tiers"]["levels"][1]["code"] == "silver"
    r = patch(manager_client, f"/api/v1/loyalty/programs/{program['id']}",
              {"redemption_rule": {**REDEMPTION, "value_per_point": "0.02"}})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert r.json()["redemption_rule"]["value_per_point"] == "0.02"
    r = manager_client.get(f"/api/v1/loyalty/programs/{program['id']}/versions")
    assert [v["number"] for v in r.json()] == [2, 1]
    r = manager_client.get("/api/v1/loyalty/programs?limit=1")
    assert r.json()["items"][0]["name"] == "Bay Rewards"


def test_invalid_rules_are_a_422_with_the_path_of_each_problem(manager_client):
    body = {**PROGRAM, "accrual_rule": {"points_per_unit": "lots", "colour": "red"}}
    r = post(manager_client, "/api/v1/loyalty/programs", body)
    assert r.status_code == 422
    locs = {tuple(d["loc"]): d["msg"] for d in r.json()["detail"]}
    assert locs[("body", "accrual_rule", "points_per_unit")] == "Input should be a valid decimal"
    assert locs[("body", "accrual_rule", "colour")].startswith("is not a setting")


def test_second_active_program_in_a_currency_is_a_409(manager_client, program):
    r = post(manager_client, "/api/v1/loyalty/programs", PROGRAM)
    assert r.status_code == 409
    assert r.json()["detail"][0]["loc"] == ["body", "is_active"]


def test_advisor_cannot_create_a_program(advisor_client):
    assert post(advisor_client, "/api/v1/loyalty/programs", PROGRAM).status_code == 403


def test_unknown_program_is_a_404(manager_client):
    assert manager_client.get("/api/v1/loyalty/programs/999999").status_code == 404


def test_preview_reports_points_and_steps(advisor_client):
    body = {"accrual_rule": ACCRUAL, "lines": [
        {"kind": "labor", "amount": "80.00"}, {"kind": "part", "amount": "20.00", "payer": "warranty"}]}
    r = post(advisor_client, "/api/v1/loyalty/preview", body)
    assert r.status_code == 200
    assert r.json()["points"] == 80
    assert any("paid by warranty" in step for step in r.json()["steps"])


def test_customer_summary_balance_and_keyset_ledger(advisor_client, program, customer):
    for n in range(3):
        points_adjust(customer=customer, program=program, points=10 + n, reason=f"r{n}", actor=SYSTEM)
    [summary] = advisor_client.get(f"/api/v1/customers/{customer.pk}/loyalty").json()
    assert (summary["points_balance"], summary["points_value"], summary["tier"]) == (33, "0.33", "member")
    assert summary["points_to_next_tier"] == 500  # adjustments do not count toward tiers
    url = f"/api/v1/loyalty/balances/{summary['balance_id']}/transactions?limit=2"
    first = advisor_client.get(url).json()
    assert [row["points"] for row in first["items"]] == [12, 11]
    second = advisor_client.get(url + f"&cursor={first['next_cursor']}").json()
    assert [row["points"] for row in second["items"]] == [10] and second["next_cursor"] is None


def test_a_tampered_cursor_is_a_422(advisor_client, program, customer):
    points_adjust(customer=customer, program=program, points=10, reason="r", actor=SYSTEM)
    balance_id = LoyaltyTransaction.objects.get().balance_id
    r = advisor_client.get(f"/api/v1/loyalty/balances/{balance_id}/transactions?cursor=nope")
    assert r.status_code == 422


def test_transaction_explains_its_points(advisor_client, program, customer):
    card_with_lines(customer, ("labor", "37.90"), status=JobCardStatus.COMPLETED)
    row = LoyaltyTransaction.objects.get(type="earn")
    r = advisor_client.get(f"/api/v1/loyalty/transactions/{row.pk}")
    assert r.status_code == 200
    data = r.json()
    assert data["consistent"] and data["rule_version"] == 1 and data["transaction"]["points"] == 37
    assert data["steps"][-1] == "37.9 points, rounded down: 37 points."


def test_redeem_over_the_api(advisor_client, program, customer):
    points_adjust(customer=customer, program=program, points=500, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    quote = advisor_client.get(f"/api/v1/job-cards/{card.pk}/loyalty").json()
    assert (quote["available"], quote["max_points"]) == (500, 500)
    r = post(advisor_client, f"/api/v1/job-cards/{card.pk}/loyalty/redeem", {"points": 200})
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["line"]["kind"] == "discount" and data["line"]["unit_price"] == "2.00"
    assert (data["job_card_total"], data["points_balance"]) == ("98.00", 300)


def test_redeem_overdraw_is_a_422_on_points(advisor_client, program, customer):
    points_adjust(customer=customer, program=program, points=50, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    r = post(advisor_client, f"/api/v1/job-cards/{card.pk}/loyalty/redeem", {"points": 51})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body", "points"], "msg": "Only 50 points are available.",
                                   "type": "PointsOverdraw"}]


@pytest.mark.parametrize("points", [0, -5, "many", 10**9])
def test_redeem_with_nonsense_points_is_a_422(advisor_client, program, customer, points):
    card = card_with_lines(customer, ("labor", "100.00"))
    r = post(advisor_client, f"/api/v1/job-cards/{card.pk}/loyalty/redeem", {"points": points})
    assert r.status_code == 422


def test_redeem_on_a_closed_job_card_is_a_409(advisor_client, program, customer):
    card = card_with_lines(customer, ("labor", "100.00"), status=JobCardStatus.CLOSED)
    r = post(advisor_client, f"/api/v1/job-cards/{card.pk}/loyalty/redeem", {"points": 1})
    assert r.status_code == 409


def test_redeem_on_an_unknown_job_card_is_a_404(advisor_client, program):
    assert post(advisor_client, "/api/v1/job-cards/999999/loyalty/redeem", {"points": 1}).status_code == 404


def test_redeem_retried_with_the_same_key_redeems_once(advisor_client, program, customer):
    points_adjust(customer=customer, program=program, points=500, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    url, body = f"/api/v1/job-cards/{card.pk}/loyalty/redeem", {"points": 100, "idempotency_key": "k-1"}
    first, second = post(advisor_client, url, body), post(advisor_client, url, body)
    assert first.json()["transaction"]["id"] == second.json()["transaction"]["id"]
    assert LoyaltyTransaction.objects.filter(type="redeem").count() == 1


def test_api_key_with_the_loyalty_scope_redeems_and_without_it_cannot(client, program, customer):
    points_adjust(customer=customer, program=program, points=500, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    _key, loyalty_key = factories.make_api_key("loyalty")
    _key, read_key = factories.make_api_key("read")
    url = f"/api/v1/job-cards/{card.pk}/loyalty/redeem"
    denied = post(client, url, {"points": 10}, HTTP_AUTHORIZATION=f"Bearer {read_key}")
    assert denied.status_code == 403
    r = post(client, url, {"points": 10}, HTTP_AUTHORIZATION=f"Bearer {loyalty_key}")
    assert r.status_code == 201
    assert LoyaltyTransaction.objects.get(type="redeem").created_by.startswith("apikey:")


def test_manager_adjusts_over_the_api(manager_client, program, customer):
    r = post(manager_client, f"/api/v1/customers/{customer.pk}/loyalty/adjustments",
             {"program_id": program.pk, "points": 25, "reason": "Missed earn on JC-12"})
    assert r.status_code == 201
    assert r.json()["transaction"]["notes"] == "Missed earn on JC-12"


@pytest.mark.parametrize(("body", "field"), [
    ({"points": 25, "reason": ""}, "reason"),
    ({"points": 0, "reason": "x"}, "points"),
    ({"points": -25, "reason": "x"}, "points"),
])
def test_bad_adjustments_are_422s_on_their_field(manager_client, program, customer, body, field):
    r = post(manager_client, f"/api/v1/customers/{customer.pk}/loyalty/adjustments",
             {"program_id": program.pk, **body})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == field


def test_adjusting_in_an_unknown_program_is_a_422(manager_client, customer):
    r = post(manager_client, f"/api/v1/customers/{customer.pk}/loyalty/adjustments",
             {"program_id": 999999, "points": 5, "reason": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "program_id"]


def test_only_managers_adjust(advisor_client, client, program, customer):
    body = {"program_id": program.pk, "points": 25, "reason": "x"}
    url = f"/api/v1/customers/{customer.pk}/loyalty/adjustments"
    assert post(advisor_client, url, body).status_code == 403
    _key, secret = factories.make_api_key("write", "loyalty", "catalog")
    assert post(client, url, body, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 403
    assert not LoyaltyTransaction.objects.exists()


def test_liability_report_and_ledger_export(manager_client, program, customer):
    points_adjust(customer=customer, program=program, points=250, reason="Welcome", actor=SYSTEM)
    [row] = manager_client.get("/api/v1/loyalty/reports/liability").json()
    assert (row["tier"], row["members"], row["points"], row["value"]) == ("member", 1, 250, "2.50")
    r = manager_client.get(f"/api/v1/loyalty/ledger/export?customer_id={customer.pk}")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert len(b"".join(r.streaming_content).splitlines()) == 2


def test_advisor_cannot_read_the_liability_report(advisor_client):
    assert advisor_client.get("/api/v1/loyalty/reports/liability").status_code == 403
    assert advisor_client.get("/api/v1/loyalty/ledger/export").status_code == 403


def test_anonymous_api_call_is_a_401(client):
    assert client.get("/api/v1/loyalty/programs").status_code == 401


def test_ledger_export_refuses_a_time_no_database_can_store(manager_client):
    r = manager_client.get("/api/v1/loyalty/ledger/export?since=0001-01-01T00:00:00%2B01:00")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "since"]
