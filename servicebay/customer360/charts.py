"""Server-rendered SVG charts: no JavaScript library, no CDN, readable by screen readers.

``spend_visits_svg`` draws monthly spend as bars (left axis) and visits as a line with dots
(right axis). The SVG carries a title and a text summary; the page shows the same numbers as a
table for anyone who cannot see the picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.dates import MONTHS_3
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from servicebay.core.money import format_money

from .selectors import MonthPoint

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 40, 16, 28


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (axis maxima people can read)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value - 1e-9:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _short_money(amount: float, currency: str) -> str:
    if amount >= 10_000:
        text = format_money(Decimal(round(amount / 1000)), currency)
        return text.replace(".00", "") + "k"
    return format_money(Decimal(str(round(amount))), currency).replace(".00", "")


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def spend_visits_svg(series: Sequence[MonthPoint], currency: str, *, title_id: str = "c360-chart") -> SafeString:
    """An accessible SVG chart of ``series`` (oldest month first)."""
    count = len(series)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(count, 1)
    spend_max = nice_ceiling(float(max((p.spend for p in series), default=Decimal("0"))))
    # An even maximum keeps the middle gridline on a whole number of visits.
    visits_max = float(max(2, math.ceil(max((p.visits for p in series), default=0) / 2) * 2))

    def y_spend(value: float) -> float:
        return TOP + plot_h - (value / spend_max) * plot_h

    def y_visits(value: float) -> float:
        return TOP + plot_h - (value / visits_max) * plot_h

    grid = []
    for fraction in (0, 0.5, 1):
        y = y_spend(spend_max * fraction)
        grid.append(format_html(
            '<line class="c360-chart__grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
            '<text class="c360-chart__axis" x="{}" y="{}" text-anchor="end">{}</text>'
            '<text class="c360-chart__axis c360-chart__axis--visits" x="{}" y="{}">{}</text>',
            LEFT, WIDTH - RIGHT, _fmt(y), _fmt(y), LEFT - 8, _fmt(y + 4),
            _short_money(spend_max * fraction, currency), WIDTH - RIGHT + 8, _fmt(y + 4),
            _visits_label(visits_max * fraction),
        ))

    # One element per month: plain str.format with the one piece of text (the label) escaped —
    # what format_html does, without escaping every number of every element again.
    bars, labels, points = [], [], []
    bar_w = max(slot * 0.62, 2)
    labelled_year = None
    for i, point in enumerate(series):
        x = LEFT + i * slot + (slot - bar_w) / 2
        spend = float(point.spend)
        label = escape(
            f"{point.month:%b %Y}: {format_money(point.spend, currency)}, " + _visits_text(point.visits)
        )
        if spend > 0:
            y = y_spend(spend)
            bars.append(
                f'<rect class="c360-chart__bar" x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(bar_w)}"'
                f' height="{_fmt(TOP + plot_h - y)}" rx="2"><title>{label}</title></rect>'
            )
        cx = LEFT + i * slot + slot / 2
        points.append((cx, y_visits(point.visits), label))
        if i % 3 == 0 or count <= 12:
            year = point.month.year
            text = f"{point.month:%b}" if year == labelled_year else f"{point.month:%b %y}"
            labelled_year = year
            labels.append(
                f'<text class="c360-chart__axis" x="{_fmt(cx)}" y="{HEIGHT - 8}"'
                f' text-anchor="middle">{escape(text)}</text>'
            )

    line = format_html(
        '<polyline class="c360-chart__line" points="{}"/>',
        " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y, _ in points),
    ) if points else ""
    dots = mark_safe("".join(  # the labels were escaped above, the rest are numbers
        f'<circle class="c360-chart__dot" cx="{_fmt(x)}" cy="{_fmt(y)}" r="3">'
        f"<title>{label}</title></circle>"
        for x, y, label in points
    ))
    total_spend = sum((p.spend for p in series), Decimal("0"))
    total_visits = sum(p.visits for p in series)
    busiest = max(series, key=lambda p: (p.spend, p.visits), default=None)
    summary = (
        f"{format_money(total_spend, currency)} over {_visits_text(total_visits)} in the last "
        f"{count} months."
    )
    if busiest is not None and busiest.spend > 0:
        summary += (
            f" Highest month: {busiest.month:%B %Y} with {format_money(busiest.spend, currency)}."
        )
    return format_html(
        '<svg class="c360-chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title {id}-desc"'
        ' preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{id}-title">Spend and visits per month</title>'
        '<desc id="{id}-desc">{summary}</desc>'
        "{grid}{bars}{line}{dots}{labels}"
        '<line class="c360-chart__baseline" x1="{left}" x2="{right}" y1="{base}" y2="{base}"/>'
        "</svg>",
        w=WIDTH, h=HEIGHT, id=title_id, summary=summary,
        grid=mark_safe("".join(grid)),  # each piece was built by format_html
        bars=mark_safe("".join(bars)),  # numbers and escaped labels
        line=line, dots=dots,
        labels=mark_safe("".join(labels)),
        left=LEFT, right=WIDTH - RIGHT, base=_fmt(TOP + plot_h),
    )


@dataclass(frozen=True)
class TableRow:
    """One month of the chart's table: what ``date:"M Y"``, the count and ``money`` would show."""

    month: str
    visits: int
    spend: str


def chart_table_rows(series: Sequence[MonthPoint], currency: str) -> list[TableRow]:
    """The chart's figures as table rows, newest month first, formatted once in Python."""
    return [
        TableRow(
            month=f"{str(MONTHS_3[point.month.month]).title()} {point.month.year:04d}",
            visits=point.visits,
            spend=format_money(point.spend, currency or "USD"),
        )
        for point in reversed(series)
    ]


def _visits_label(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _visits_text(count: int) -> str:
    return "1 visit" if count == 1 else f"{count} visits"
