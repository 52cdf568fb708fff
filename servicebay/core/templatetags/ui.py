"""Template helpers of the design system: money, local time, status badges, optional links.

``{% load ui %}`` then:
- ``{{ amount|money:currency }}`` → ``$1,234.50`` (Decimal, one rounding rule).
- ``{{ dt|in_zone:location.time_zone|date:"D j M, H:i" }}`` → the time in that IANA zone.
- ``{% status_badge obj %}`` → a coloured badge for any object with ``status`` and
  ``get_status_display`` (job cards, appointments, recommendations, messages ...).
- ``{{ customer.phone|phone }}`` → ``+1 312-555-0100``; ``{{ line.quantity|quantity }}`` → ``1.5``.
- ``{% optional_url "app:name" arg as var %}`` → the URL, or "" while that page does not exist.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import phonenumbers
from django import template
from django.templatetags.tz import do_timezone
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from servicebay.core.money import format_money

register = template.Library()


@register.filter
def money(amount, currency: str = "USD") -> str:
    if amount is None or amount == "":
        return "—"
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except InvalidOperation:
        return ""
    return format_money(value, currency or "USD")


@register.filter
def in_zone(value, tz_name: str):
    """An aware datetime shown in ``tz_name``; Django's ``date`` filter then leaves it alone."""
    if not value or not tz_name:
        return value
    return do_timezone(value, tz_name)


@register.simple_tag
def status_badge(obj, status: str | None = None, label: str | None = None) -> str:
    status = status or getattr(obj, "status", "")
    if label is None:
        display = getattr(obj, "get_status_display", None)
        label = display() if callable(display) else str(status).replace("_", " ").capitalize()
    return format_html('<span class="badge badge--{}">{}</span>', status, label)


@register.simple_tag
def optional_url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


@register.filter
def phone(value: str) -> str:
    """An E.164 number in its readable international form (+1 312-555-0100)."""
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@register.filter
def quantity(value) -> str:
    """A Decimal quantity without trailing zeros: 1.500 → 1.5, 2.000 → 2."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
