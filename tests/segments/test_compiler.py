"""Each condition selects exactly the customers it describes, and the explainer agrees with SQL."""

from datetime import timedelta

import pytest

from servicebay.segments.compiler import members_queryset
from servicebay.segments.dsl import parse_filter
from servicebay.segments.explain import explain_customer

pytestmark = pytest.mark.django_db


def members(population, root, as_of=None) -> set[int]:
    f = parse_filter({"version": 1, "root": root})
    return set(members_queryset(f, as_of=as_of or population.now).values_list("pk", flat=True))


def cond(field, op=None, value=None, **extra):
    data = {"field": field, **extra}
    if op is not None:
        data["op"] = op
    if value is not None:
        data["value"] = value
    return data


CASES = [
    ("spend_gte_500", cond("lifetime_spend", "gte", "500"), {"alice", "erin"}),
    ("spend_lt_100_includes_zero", cond("lifetime_spend", "lt", "100"), {"carol", "frank"}),
    ("spend_between", cond("lifetime_spend", "between", ["100", "600"]), {"alice", "bob", "dave"}),
    ("spend_ne_150", cond("lifetime_spend", "ne", "150"), {"alice", "carol", "erin", "frank"}),
    ("visits_eq_0", cond("visit_count", "eq", 0), {"carol", "frank"}),
    ("visits_gte_2", cond("visit_count", "gte", 2), {"alice", "dave"}),
    ("spend_90d_gte_250", cond("spend_in_period", "gte", "250", within_days=90), {"alice", "erin"}),
    ("spend_90d_lt_100", cond("spend_in_period", "lt", "100", within_days=90),
     {"bob", "carol", "dave", "frank"}),
    ("last_visit_within_30", cond("last_visit", "within_days", 30), {"alice", "erin"}),
    ("last_visit_not_within_30", cond("last_visit", "not_within_days", 30), {"bob", "dave"}),
    ("never_visited", cond("last_visit", "never"), {"carol", "frank"}),
    ("ever_visited", cond("last_visit", "ever"), {"alice", "bob", "dave", "erin"}),
    ("toyota", cond("vehicle", make="toyota"), {"alice", "dave"}),
    ("toyota_2016_plus", cond("vehicle", make="Toyota", year_min=2016), {"alice"}),
    ("no_toyota", cond("vehicle", "has_not", make="Toyota"), {"bob", "carol", "erin", "frank"}),
    ("model_f150", cond("vehicle", model="F-150"), {"carol"}),
    ("birthday_march", cond("birthday_month", "in", [3]), {"alice", "erin"}),
    ("birthday_not_march", cond("birthday_month", "not_in", [3]), {"bob", "carol", "dave", "frank"}),
    ("created_before_a_year", cond("created", "not_within_days", 365), {"carol"}),
    ("created_within_30", cond("created", "within_days", 30), {"alice", "bob", "dave", "erin", "frank"}),
    ("tier_gold", cond("loyalty_tier", "in", ["gold"]), {"alice", "erin"}),
    ("tier_not_gold", cond("loyalty_tier", "not_in", ["gold"]), {"bob", "carol", "dave", "frank"}),
    ("points_gte_600", cond("loyalty_points", "gte", 600), {"alice", "erin"}),
    ("points_lt_100", cond("loyalty_points", "lt", 100), {"carol", "frank"}),
    ("email_marketing", cond("consent", channel="email"), {"alice"}),
    ("sms_marketing", cond("consent", channel="sms"), {"bob"}),
    ("not_email_marketing", cond("consent", "not_opted_in", channel="email"),
     {"bob", "carol", "dave", "erin", "frank"}),
    ("email_transactional", cond("consent", channel="email", purpose="transactional"),
     {"alice", "bob", "carol", "erin"}),
]


@pytest.mark.parametrize(("name", "root", "expected"), CASES, ids=[c[0] for c in CASES])
def test_condition_selects_exactly_its_customers(population, name, root, expected):
    assert members(population, root) == population.ids(*expected)


def test_groups_combine_with_and_or_not(population):
    root = {"all": [
        {"any": [cond("vehicle", make="Toyota"), cond("lifetime_spend", "gte", "900")]},
        {"not": cond("last_visit", "within_days", 20)},
    ]}
    assert members(population, root) == population.ids("dave")


def test_home_and_visited_location_differ(population):
    home_a = cond("location", "in", [population.loc_a.pk])
    visited_b = cond("location", "in", [population.loc_b.pk], scope="visited")
    assert members(population, home_a) == population.ids("alice", "dave", "frank")
    assert members(population, visited_b) == population.ids("bob", "dave", "erin")
    assert members(population, cond("location", "not_in", [population.loc_a.pk])) == \
        population.ids("bob", "carol", "erin")


def test_relative_conditions_follow_as_of(population):
    root = cond("spend_in_period", "gte", "1", within_days=30)
    assert members(population, root) == population.ids("alice", "erin")
    # Seen from 100 days ago, nobody's last-30-day window holds the recent visits.
    assert members(population, root, as_of=population.now - timedelta(days=100)) == \
        population.ids("dave")


def test_absolute_period_is_inclusive_of_both_days(population):
    day = (population.now - timedelta(days=50)).date()
    root = cond("spend_in_period", "eq", "200", **{"from": str(day), "to": str(day)})
    assert members(population, root) == population.ids("alice")


FILTERS = [c[1] for c in CASES] + [
    {"all": [cond("visit_count", "gte", 1), {"not": cond("consent", channel="email")}]},
    {"any": [cond("birthday_month", "in", [12]), cond("vehicle", make="BMW"),
             cond("location", "in", [1, 2], scope="visited")]},
]


@pytest.mark.parametrize("root", FILTERS)
def test_explainer_verdict_equals_sql_membership(population, root):
    f = parse_filter({"version": 1, "root": root})
    inside = set(members_queryset(f, as_of=population.now).values_list("pk", flat=True))
    for customer in population.people.values():
        verdict = explain_customer(f, customer=customer, as_of=population.now)
        assert verdict.passed == (customer.pk in inside), (customer.first_name, verdict)


def test_explainer_shows_the_compared_values(population):
    f = parse_filter({"version": 1, "root": {"all": [
        cond("lifetime_spend", "gte", "500"), cond("vehicle", make="Honda")]}})
    result = explain_customer(f, customer=population.people["alice"], as_of=population.now)
    spend, vehicle = result.children
    assert (spend.passed, spend.actual, spend.expected) == (True, "$600.00", "≥ $500.00")
    assert vehicle.passed is False
    assert "2018 Toyota Camry" in vehicle.actual
    assert result.passed is False
