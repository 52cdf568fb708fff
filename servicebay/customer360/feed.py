"""How the activity feed reads: event kinds grouped into families, and one line per kind.

The event log stores ``kind`` + a small JSON payload; this module turns each into a sentence an
advisor reads at a glance ("Job card #12 completed · $412.50"). The kinds are plain strings, so
the feature apps' kinds are described here without importing them; a kind nobody described yet
still reads sensibly from its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR

from servicebay.core.money import format_money
from servicebay.core.timezones import local


@dataclass(frozen=True)
class Family:
    key: str
    label: str
    prefixes: tuple[str, ...]


# The filter menu of the feed. Order is the menu's order.
FAMILIES: tuple[Family, ...] = (
    Family("note", "Notes", ("note.",)),
    Family("visit", "Visits", ("visit.",)),
    Family("jobcard", "Job cards", ("jobcard.",)),
    Family("appointment", "Appointments", ("appointment.",)),
    Family("recommendation", "Recommendations", ("recommendation.",)),
    Family("message", "Communications", ("message.", "consent.", "journey.")),
    Family("loyalty", "Loyalty", ("loyalty.", "points.", "tier.")),
    Family("profile", "Profile", ("customer.", "vehicle.")),
)
FAMILY_BY_KEY = {family.key: family for family in FAMILIES}


def family_of(kind: str) -> Family | None:
    for family in FAMILIES:
        if kind.startswith(family.prefixes):
            return family
    return None


def kind_filter(kinds: list[str]) -> Q:
    """A filter on ``kind`` for family keys (``note``) and exact kinds (``note.added``) alike."""
    condition = Q()
    for value in kinds:
        family = FAMILY_BY_KEY.get(value)
        if family is None:
            condition |= Q(kind=value)
            continue
        for prefix in family.prefixes:
            condition |= Q(kind__startswith=prefix)
    return condition


@dataclass(frozen=True)
class Line:
    title: str
    detail: str = ""
    tone: str = "neutral"  # a badge tone of the design system: neutral, info, success, warning, danger


@dataclass(frozen=True)
class Context:
    """What a describer may use besides the payload: where to show times and money."""

    time_zone: str
    currency: str

    def when(self, iso: Any) -> str:
        value = parse_datetime(iso) if isinstance(iso, str) else iso
        if not isinstance(value, datetime) or value.tzinfo is None:
            return ""
        shown = local(value, self.time_zone)
        return f"{shown:%a} {shown.day} {shown:%b %Y, %H:%M}"

    def money(self, amount: Any, currency: str | None = None) -> str:
        try:
            return format_money(Decimal(str(amount)), currency or self.currency)
        except (InvalidOperation, ValueError):
            return ""


def shown_at(value: datetime, time_zone: str) -> str:
    """``value`` in ``time_zone`` as Django's ``date:"D j M Y, H:i"`` writes it ("Tue 3 Mar 2026,
    14:05"), with the same translated day and month names, at a fraction of the filter's cost."""
    shown = local(value, time_zone)
    return (
        f"{WEEKDAYS_ABBR[shown.weekday()]} {shown.day} {str(MONTHS_3[shown.month]).title()} "
        f"{shown.year:04d}, {shown.hour:02d}:{shown.minute:02d}"
    )


Describer = Callable[[dict, Context], Line]


def _join(*parts: str) -> str:
    return " · ".join(part for part in parts if part)


def _job_card(verb: str, tone: str) -> Describer:
    def describe(p: dict, ctx: Context) -> Line:
        number = p.get("number")
        title = f"Job card #{number} {verb}" if number is not None else f"Job card {verb}"
        total = ctx.money(p["total"]) if p.get("total") not in (None, "") else ""
        return Line(title, _join(total, p.get("location", ""), p.get("vehicle", "")), tone)

    return describe


def _appointment(verb: str, tone: str) -> Describer:
    def describe(p: dict, ctx: Context) -> Line:
        return Line(f"Appointment {verb}", _join(ctx.when(p.get("start_at"))), tone)

    return describe


def _note_added(p: dict, ctx: Context) -> Line:
    return Line("Pinned note" if p.get("pinned") else "Note", p.get("excerpt", ""), "info")


def _appointment_booked(p: dict, ctx: Context) -> Line:
    services = ", ".join(p.get("services") or [])
    return Line(
        "Appointment booked",
        _join(ctx.when(p.get("start_at")), p.get("location", ""), p.get("vehicle", ""), services),
        "info",
    )


def _appointment_rescheduled(p: dict, ctx: Context) -> Line:
    return Line("Appointment moved", _join(f"{ctx.when(p.get('from'))} → {ctx.when(p.get('to'))}"),
                "info")


def _customer_updated(p: dict, ctx: Context) -> Line:
    fields = ", ".join(name.replace("_", " ") for name in p.get("fields", []))
    return Line("Details updated", fields)


def _vehicle_added(p: dict, ctx: Context) -> Line:
    return Line("Vehicle added", p.get("label", ""))


_CHANNELS = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}


def _channel(p: dict) -> str:
    return _CHANNELS.get(p.get("channel", ""), p.get("channel", ""))


# --- visits and recommendations (issue 3) ------------------------------------------------------


def _visit_checked_in(p: dict, ctx: Context) -> Line:
    kind = "walk-in" if p.get("visit_type") == "walk_in" else "scheduled"
    return Line(f"Checked in ({kind})", _join(p.get("location", ""), p.get("vehicle", "")), "warning")


def _visit_checked_out(p: dict, ctx: Context) -> Line:
    return Line("Checked out",
                _join(ctx.money(p.get("total_spend"), p.get("currency")), p.get("location", "")),
                "success")


def _visit_rated(p: dict, ctx: Context) -> Line:
    score = int(p["score"])
    tone = "success" if score >= 4 else "warning" if score == 3 else "danger"
    source = "by the customer" if p.get("source") == "customer_link" else "entered by an advisor"
    return Line(f"Rated the visit {score}/5", source, tone)


def _recommendation(verb: str, tone: str) -> Describer:
    def describe(p: dict, ctx: Context) -> Line:
        price = ctx.money(p["estimated_price"]) if p.get("estimated_price") else ""
        return Line(f"{verb}: {p.get('name') or p.get('service', 'work')}",
                    _join(price, p.get("measured_value") or "", p.get("reason") or ""), tone)

    return describe


# --- communications (issue 5) ------------------------------------------------------------------


def _message_scheduled(p: dict, ctx: Context) -> Line:
    channel = _channel(p)
    what = _join(p.get("template", ""), "marketing" if p.get("purpose") == "marketing" else "")
    if p.get("status") == "deferred":
        return Line(f"Message by {channel} held for quiet hours",
                    _join(f"goes out {ctx.when(p.get('scheduled_for'))}", what), "warning")
    return Line(f"Message by {channel} queued", what, "info")


def _message(title: str, tone: str, detail_key: str = "reason") -> Describer:
    def describe(p: dict, ctx: Context) -> Line:
        return Line(title.format(channel=_channel(p)), str(p.get(detail_key) or ""), tone)

    return describe


def _message_received(p: dict, ctx: Context) -> Line:
    keyword = (p.get("keyword") or "").upper()
    if keyword == "STOP":
        return Line(f"Opted out by {_channel(p)} (STOP)", p.get("excerpt", ""), "danger")
    return Line(f"Replied by {_channel(p)}", p.get("excerpt", ""), "info")


def _consent_changed(p: dict, ctx: Context) -> Line:
    purpose = "marketing" if p.get("purpose") == "marketing" else "service messages"
    source = (p.get("source") or "").replace("_", " ")
    if p.get("granted"):
        return Line(f"Opted in to {purpose} by {_channel(p)}", source, "success")
    return Line(f"Opted out of {purpose} by {_channel(p)}", source, "danger")


# --- loyalty (issue 4) -------------------------------------------------------------------------


def _points(p: dict) -> int:
    return int(p["points"])


def _loyalty_detail(p: dict) -> str:
    number = str(p.get("job_card_number") or "")
    balance = p.get("balance")
    card = f"job card #{number}" if number.isdigit() else f"job card {number}"
    return _join(card if number else "",
                 f"balance {int(balance):,}" if balance is not None else "")


def _loyalty_earned(p: dict, ctx: Context) -> Line:
    return Line(f"Earned {_points(p):,} points", _loyalty_detail(p), "success")


def _loyalty_redeemed(p: dict, ctx: Context) -> Line:
    return Line(f"Redeemed {abs(_points(p)):,} points", _loyalty_detail(p), "info")


def _loyalty_adjusted(p: dict, ctx: Context) -> Line:
    points = _points(p)
    return Line(f"Points adjusted {points:+,}", _loyalty_detail(p), "warning")


def _loyalty_expired(p: dict, ctx: Context) -> Line:
    return Line(f"{abs(_points(p)):,} points expired", _loyalty_detail(p), "neutral")


def _tier_changed(p: dict, ctx: Context) -> Line:
    up = p.get("direction") != "down"
    name = p.get("to_name") or p.get("to", "")
    return Line(f"Moved {'up' if up else 'down'} to {name}", p.get("program", ""),
                "success" if up else "warning")


DESCRIBERS: dict[str, Describer] = {
    "note.added": _note_added,
    "customer.created": lambda p, ctx: Line("Became a customer"),
    "customer.updated": _customer_updated,
    "vehicle.added": _vehicle_added,
    "appointment.booked": _appointment_booked,
    "appointment.confirmed": _appointment("confirmed", "success"),
    "appointment.checked_in": _appointment("checked in", "warning"),
    "appointment.no_show": _appointment("missed (no-show)", "danger"),
    "appointment.cancelled": _appointment("cancelled", "danger"),
    "appointment.rescheduled": _appointment_rescheduled,
    "jobcard.opened": _job_card("opened", "info"),
    "jobcard.started": _job_card("started", "warning"),
    "jobcard.completed": _job_card("completed", "success"),
    "jobcard.closed": _job_card("closed and paid", "neutral"),
    "jobcard.cancelled": _job_card("cancelled", "danger"),
    "jobcard.reopened": _job_card("reopened", "warning"),
    "visit.checked_in": _visit_checked_in,
    "visit.checked_out": _visit_checked_out,
    "visit.rated": _visit_rated,
    "recommendation.suggested": _recommendation("Recommended", "info"),
    "recommendation.accepted": _recommendation("Accepted", "success"),
    "recommendation.declined": _recommendation("Declined", "warning"),
    "message.scheduled": _message_scheduled,
    "message.sent": _message("Message sent by {channel}", "success", "template"),
    "message.delivered": _message("Message delivered by {channel}", "success"),
    "message.failed": _message("Message by {channel} failed", "danger", "error"),
    "message.skipped": _message("Message by {channel} not sent", "warning"),
    "message.suppressed": _message("Message by {channel} suppressed", "danger"),
    "message.cancelled": _message("Message by {channel} cancelled", "neutral"),
    "message.unknown": _message("Message by {channel}: outcome unknown", "warning", "error"),
    "message.received": _message_received,
    "consent.changed": _consent_changed,
    "loyalty.earned": _loyalty_earned,
    "loyalty.redeemed": _loyalty_redeemed,
    "loyalty.adjusted": _loyalty_adjusted,
    "loyalty.expired": _loyalty_expired,
    "loyalty.tier_changed": _tier_changed,
}


def _generic(kind: str) -> Line:
    """"loyalty.tier_changed" reads "Loyalty: tier changed" until a describer exists."""
    head, _, tail = kind.partition(".")
    subject = head.replace("_", " ").capitalize()
    return Line(f"{subject}: {tail.replace('_', ' ')}" if tail else subject)


def describe(kind: str, payload: dict, ctx: Context) -> Line:
    describer = DESCRIBERS.get(kind)
    if describer is None:
        return _generic(kind)
    try:
        return describer(payload or {}, ctx)
    except (KeyError, TypeError, ValueError, AttributeError):
        # An old or hand-written payload missing a field still shows as its kind, not a 500.
        return _generic(kind)
