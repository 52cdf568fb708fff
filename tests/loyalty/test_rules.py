"""Rule documents validate with clear errors; the pure accrual and redemption maths."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicebay.loyalty.rules import (
    AccrualRule,
    InvalidRules,
    LineInput,
    RedemptionRule,
    accrual_compute,
    redemption_max_points,
    redemption_value,
    rules_parse,
)

from .conftest import ACCRUAL, REDEMPTION, TIERS


def parse(accrual=None, redemption=None, tiers=None):
    return rules_parse(accrual_rule=ACCRUAL if accrual is None else accrual,
                       redemption_rule=REDEMPTION if redemption is None else redemption,
                       tiers=TIERS if tiers is None else tiers)


def errors_of(**docs) -> list[str]:
    with pytest.raises(InvalidRules) as exc:
        parse(**docs)
    return [f"{'.'.join(path)}: {msg}" for path, msg in exc.value.errors]


def test_defaults_are_a_valid_program():
    rules = rules_parse(accrual_rule={}, redemption_rule={}, tiers={})
    assert rules.accrual.points_per_unit == Decimal("1")
    assert rules.redemption.value_per_point == Decimal("0.01")
    assert rules.tiers.levels == []


def test_misspelt_setting_is_named():
    assert errors_of(accrual={"points_per_dollar": 2}) == [
        "accrual_rule.points_per_dollar: is not a setting of this rule (check the spelling)"
    ]


def test_negative_rate_is_refused_with_its_path():
    assert errors_of(accrual={"points_per_unit": -1}) == [
        "accrual_rule.points_per_unit: Input should be greater than or equal to 0"
    ]


def test_unknown_line_kind_is_refused():
    [error] = errors_of(accrual={"eligible_kinds": ["labor", "tyres"]})
    assert error.startswith("accrual_rule.eligible_kinds.1: Input should be 'labor', 'part' or 'fee'")


def test_every_problem_in_every_document_is_listed():
    errors = errors_of(accrual={"rounding": "sideways"}, redemption={"value_per_point": 0, "step": 0})
    assert [e.split(":")[0] for e in errors] == [
        "accrual_rule.rounding", "redemption_rule.value_per_point", "redemption_rule.step"
    ]


def test_tiers_must_start_at_zero_and_rise():
    assert errors_of(tiers={"levels": [{"code": "gold", "name": "Gold", "threshold": 10}]}) == [
        "tiers: the first tier is where every member starts: give it threshold 0"
    ]
    levels = [{"code": "a", "name": "A", "threshold": 0}, {"code": "b", "name": "B", "threshold": 0}]
    assert errors_of(tiers={"levels": levels}) == [
        "tiers: list tiers from lowest to highest with strictly increasing thresholds"
    ]


def test_tier_multiplier_for_an_unknown_tier_is_refused():
    assert errors_of(accrual={"tier_multipliers": {"platinum": 2}}) == [
        "accrual_rule.tier_multipliers.platinum: there is no tier 'platinum' (tiers: gold, member, silver)"
    ]


def test_a_document_that_is_not_an_object_is_refused():
    assert errors_of(redemption=[1, 2]) == ["redemption_rule: must be a JSON object, e.g. {}"]


def test_invalid_rules_map_to_field_level_api_detail():
    with pytest.raises(InvalidRules) as exc:
        parse(redemption={"max_invoice_share": 2})
    assert exc.value.as_detail() == [{
        "loc": ["body", "redemption_rule", "max_invoice_share"],
        "msg": "Input should be less than or equal to 1", "type": "invalid_rule",
    }]


def line(kind="labor", net="100.00", payer="customer", category=""):
    return LineInput(line_id=None, kind=kind, description=kind, category=category, payer=payer,
                     net=Decimal(net))


@pytest.mark.parametrize(("rounding", "points"), [("down", 12), ("nearest", 13), ("up", 13)])
def test_rounding_modes(rounding, points):
    rule = AccrualRule(points_per_unit=Decimal("1"), rounding=rounding)
    assert accrual_compute(rule, [line(net="12.50")]).points == points


def test_fee_lines_earn_only_when_configured():
    assert accrual_compute(AccrualRule(), [line("fee", "30.00")]).points == 0
    assert accrual_compute(AccrualRule(eligible_kinds=["fee"]), [line("fee", "30.00")]).points == 30


def test_redemption_max_points_honours_balance_cap_and_step():
    rule = RedemptionRule(value_per_point=Decimal("0.01"), step=25, minimum_points=100)
    assert redemption_max_points(rule, available=1000, cap=Decimal("3.33")) == 325
    assert redemption_max_points(rule, available=240, cap=Decimal("100")) == 225
    assert redemption_max_points(rule, available=90, cap=Decimal("100")) == 0


amounts = st.decimals(min_value=0, max_value=5000, places=2)
payers = st.sampled_from(["customer", "warranty", "insurance", "fleet"])
kinds = st.sampled_from(["labor", "part", "fee", "discount"])
lines = st.lists(st.builds(line, kind=kinds, net=amounts.map(str), payer=payers), max_size=8)


def _signed(items):
    return [LineInput(i.line_id, i.kind, i.description, i.category, i.payer,
                      -i.net if i.kind == "discount" else i.net) for i in items]


@settings(deadline=None)
@given(lines)
def test_accrual_is_never_negative(items):
    assert accrual_compute(AccrualRule(), _signed(items)).points >= 0


@settings(deadline=None)
@given(lines, st.lists(st.builds(line, kind=st.sampled_from(["labor", "part"]), net=amounts.map(str),
                                 payer=st.sampled_from(["warranty", "insurance", "fleet"])), max_size=4))
def test_lines_not_paid_by_the_customer_never_change_the_points(items, others):
    rule = AccrualRule()
    assert accrual_compute(rule, _signed(items)).points == accrual_compute(rule, _signed(items + others)).points


@settings(deadline=None)
@given(lines, amounts)
def test_more_customer_spend_never_earns_fewer_points(items, extra):
    rule = AccrualRule()
    more = [*items, line("labor", str(extra))]
    assert accrual_compute(rule, _signed(more)).points >= accrual_compute(rule, _signed(items)).points


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=10**7), st.decimals(min_value=0, max_value=10**5, places=2))
def test_redeemable_points_never_exceed_balance_or_cap(available, cap):
    rule = RedemptionRule(value_per_point=Decimal("0.01"), step=5)
    best = redemption_max_points(rule, available=available, cap=cap)
    assert 0 <= best <= available
    assert redemption_value(rule, best) <= cap
    assert best % 5 == 0
