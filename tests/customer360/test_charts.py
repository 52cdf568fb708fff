from datetime import date
from decimal import Decimal

import pytest

from servicebay.customer360.charts import nice_ceiling, spend_visits_svg
from servicebay.customer360.selectors import MonthPoint


@pytest.mark.parametrize(("value", "ceiling"), [(0, 1), (7, 10), (120, 200), (230, 250), (4100, 5000)])
def test_axis_maximum_is_a_readable_round_number(value, ceiling):
    assert nice_ceiling(value) == ceiling


def _series(spends):
    return [MonthPoint(month=date(2025 + i // 12, i % 12 + 1, 1), visits=int(s != "0"),
                       spend=Decimal(s))
            for i, s in enumerate(spends)]


def test_chart_draws_a_bar_per_month_with_spend_and_says_it_in_words():
    svg = str(spend_visits_svg(_series(["0", "120.00", "0", "45.50"]), "USD"))
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert svg.count('class="c360-chart__bar"') == 2
    assert svg.count('class="c360-chart__dot"') == 4
    assert "$165.50 over 2 visits in the last 4 months." in svg
    assert "Highest month: February 2025 with $120.00." in svg


def test_chart_of_a_customer_without_visits_still_has_its_axes():
    svg = str(spend_visits_svg(_series(["0"] * 24), "EUR"))
    assert svg.count('class="c360-chart__bar"') == 0
    assert "€0" in svg and "c360-chart__baseline" in svg
