"""The filter DSL: clear errors with paths, and no way to smuggle SQL through any field."""

import pytest
from django.db import connection

from servicebay.segments.compiler import members_queryset
from servicebay.segments.dsl import FilterInvalid, SegmentFilter, Vehicle, filter_dump, parse_filter
from servicebay.shop.models import Customer

INJECTIONS = [
    "'; DROP TABLE shop_customer; --",
    "1 OR 1=1",
    "\" OR \"\"=\"",
    "1; SELECT pg_sleep(5)",
    "x') UNION SELECT id FROM auth_user --",
    "/* */",
]


def _errors(data) -> list[dict]:
    with pytest.raises(FilterInvalid) as exc:
        parse_filter(data)
    return exc.value.errors


def test_a_valid_filter_round_trips_to_canonical_json():
    raw = {"root": {"all": [
        {"field": "lifetime_spend", "op": "gte", "value": "500"},
        {"not": {"field": "vehicle", "make": "Toyota"}},
        {"any": [{"field": "visit_count", "op": "between", "value": [1, 3]},
                 {"field": "spend_in_period", "op": "gt", "value": "10", "within_days": 90}]},
    ]}}
    dumped = filter_dump(parse_filter(raw))
    assert dumped["version"] == 1
    assert parse_filter(dumped) == parse_filter(raw)


def test_errors_name_the_path_of_the_bad_value():
    errors = _errors({"root": {"all": [
        {"field": "lifetime_spend", "op": "gte", "value": "500"},
        {"not": {"field": "visit_count", "op": "gte", "value": "many"}},
    ]}})
    assert errors[0]["loc"] == ["filter", "root", "all", 1, "not", "value"]
    assert "integer" in errors[0]["msg"]


def test_unknown_field_and_unknown_op_are_refused():
    assert "does not match any of the expected tags" in _errors(
        {"root": {"field": "salary", "op": "gt", "value": 1}})[0]["msg"]
    assert _errors({"root": {"field": "visit_count", "op": "like", "value": 1}})[0]["loc"] == \
        ["filter", "root", "op"]


def test_extra_keys_are_refused():
    errors = _errors({"root": {"field": "visit_count", "op": "gt", "value": 1, "sql": "1=1"}})
    assert errors[0]["loc"] == ["filter", "root", "sql"]


def test_operator_and_value_shapes_must_agree():
    assert "single value" in _errors({"root": {"field": "visit_count", "op": "gt", "value": [1, 2]}})[0]["msg"]
    assert "low <= high" in _errors({"root": {"field": "visit_count", "op": "between", "value": [5, 2]}})[0]["msg"]
    assert "number of days" in _errors({"root": {"field": "last_visit", "op": "within_days",
                                                  "value": "2025-01-01"}})[0]["msg"]
    assert "within_days, or from and to" in _errors(
        {"root": {"field": "spend_in_period", "op": "gt", "value": "1"}})[0]["msg"]


def test_size_limits_hold():
    deep = {"field": "visit_count", "op": "gt", "value": 1}
    for _ in range(8):
        deep = {"not": deep}
    assert "nest at most" in _errors({"root": deep})[0]["msg"]
    many = {"all": [{"field": "visit_count", "op": "gt", "value": i} for i in range(61)]}
    assert _errors({"root": many})


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("where", [
    lambda p: {"field": "vehicle", "make": p},
    lambda p: {"field": "vehicle", "model": p},
    lambda p: {"field": "loyalty_tier", "op": "in", "value": [p]},
    lambda p: {"field": "lifetime_spend", "op": "gte", "value": p},
    lambda p: {"field": "visit_count", "op": p, "value": 1},
    lambda p: {"field": "spend_in_period", "op": "gt", "value": "1", "within_days": p},
    lambda p: {"field": "spend_in_period", "op": "gt", "value": "1", "from": p, "to": p},
    lambda p: {"field": "last_visit", "op": "before", "value": p},
    lambda p: {"field": "created", "op": "after", "value": p},
    lambda p: {"field": "loyalty_points", "op": "gt", "value": p},
    lambda p: {"field": "location", "op": "in", "value": [p]},
    lambda p: {"field": "location", "op": "in", "value": [1], "scope": p},
    lambda p: {"field": "consent", "channel": p},
    lambda p: {"field": "consent", "channel": "email", "purpose": p},
    lambda p: {"field": "open_recommendations", "op": p},
    lambda p: {"field": "birthday_month", "op": "in", "value": [p]},
    lambda p: {"field": p, "op": "gt", "value": 1},
    lambda p: {p: [{"field": "visit_count", "op": "gt", "value": 1}]},
], ids=["make", "model", "tier", "spend", "op", "days", "from_to", "last_visit", "created",
        "points", "location", "scope", "channel", "purpose", "recs_op", "month", "field", "group"])
def test_sql_injection_in_any_field_is_rejected(payload, where):
    with pytest.raises(FilterInvalid):
        parse_filter({"root": where(payload)})


@pytest.mark.django_db
@pytest.mark.parametrize("payload", INJECTIONS)
def test_a_payload_that_bypasses_validation_is_still_only_data(payload, customer):
    # Even a tree built without validation reaches the database only as a bound parameter.
    tree = SegmentFilter.model_construct(version=1, root=Vehicle.model_construct(
        field="vehicle", op="has", make=payload, model=None, year_min=None, year_max=None))
    from django.utils import timezone

    qs = members_queryset(tree, as_of=timezone.now())
    sql, params = qs.query.sql_with_params()
    assert payload not in sql
    # (SQLite's case-insensitive match escapes LIKE wildcards in the bound value.)
    assert any(isinstance(p, str) and p.replace("\\", "") == payload for p in params)
    assert qs.count() == 0
    assert Customer.objects.filter(pk=customer.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM shop_customer")
        assert cursor.fetchone()[0] >= 1
