"""Template helpers of the visits screens.

``{% load visit_tags %}`` then:
- ``{{ prediction.plus_minus_days|plus_minus }}`` → ``± 9 days`` (empty when unknown).
- ``{{ 40|days_ago }}`` → ``40 days ago``; ``{{ line|line_amount }}`` → signed net of a job line.
- ``{{ card.lines.all|lines_of_kind:"labor,fee" }}``; ``{{ errors|get_item:rec.pk }}``.
- ``{% reading_rows mileage time_zone %}`` → the ``<tr>`` rows of a vehicle's odometer readings.
"""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.templatetags.tz import do_timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from servicebay.shop.services import line_amounts

register = template.Library()


@register.filter
def plus_minus(days: float | None) -> str:
    if days is None:
        return ""
    if days < 1:
        return "± <1 day"
    whole = round(days)
    return f"± {whole} day" if whole == 1 else f"± {whole} days"


@register.filter
def days_ago(days: int | None) -> str:
    if days is None:
        return ""
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 60:
        return f"{days} days ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


@register.filter
def line_amount(line) -> Decimal:
    return line_amounts(line)[0]


@register.filter
def lines_of_kind(lines, kinds: str) -> list:
    """The job lines of the given kinds (comma-separated), in order; no query on prefetched lines."""
    wanted = set(kinds.split(","))
    return [line for line in lines if line.kind in wanted]


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def reading_rows(context, mileage, tz_name: str) -> SafeString:
    """A vehicle's readings as table rows (date in ``tz_name``, odometer, source).

    Every service interval of a vehicle lists the same readings: the rows are built once per
    vehicle and page, not once per interval (up to 100 readings each).
    """
    key = ("visits.reading_rows", id(mileage), tz_name)
    cache = context.render_context
    if key not in cache:
        cache[key] = format_html_join(
            "", "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            (
                (date_format(do_timezone(reading.at, tz_name), "j M Y"), intcomma(reading.odometer),
                 reading.source)
                for reading in mileage.readings
            ),
        )
    return cache[key]
