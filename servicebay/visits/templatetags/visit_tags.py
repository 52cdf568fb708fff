"""Template helpers of the visits screens.

``{% load visit_tags %}`` then:
- ``{{ prediction.plus_minus_days|plus_minus }}`` → ``± 9 days`` (empty when unknown).
- ``{{ 40|days_ago }}`` → ``40 days ago``; ``{{ line|line_amount }}`` → signed net of a job line.
- ``{{ card.lines.all|lines_of_kind:"labor,fee" }}``; ``{{ errors|get_item:rec.pk }}``.
"""

from __future__ import annotations

from decimal import Decimal

from django import template

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
