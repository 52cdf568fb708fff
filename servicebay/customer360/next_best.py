"""The "next best action" card: what an advisor should do next with this customer, and one click
to do it.

Each rule looks at the already-loaded console (no queries of its own) and proposes at most one
action; rules whose data comes from a feature app return nothing until that app provides it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from servicebay.core.money import format_money
from servicebay.core.timezones import local

from .tabs import tab_get

if TYPE_CHECKING:
    from .selectors import Customer360

# Don't message a customer again within this long of the last contact (the journeys' contact
# policy has its own cap; this is the advisor's courtesy rule for one-off messages).
CONTACT_HOLD = timedelta(days=3)
# Suggest booking once the last visit is this old, nothing is booked and no service is due.
REBOOK_AFTER = timedelta(days=180)


@dataclass(frozen=True)
class Action:
    """A one-click action: what it does, its label, and what it is prefilled with."""

    kind: str  # book_appointment | send_message | call | email | open_tab
    label: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def query(self) -> str:
        """The params as a query string, to prefill the action's form."""
        return urlencode(self.params, doseq=True)


@dataclass(frozen=True)
class NextBestAction:
    key: str
    title: str
    detail: str = ""
    tone: str = "info"  # info | success | warning | danger
    action: Action | None = None


Rule = Callable[["Customer360"], "NextBestAction | None"]


def _ago(view: Customer360, when) -> str:
    days = (view.now - when).days
    if days < 1:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 60:
        return f"{days} days ago"
    return f"{days // 30} months ago"


def _date(view: Customer360, when) -> str:
    shown = local(when, view.time_zone)
    return f"{shown:%a} {shown.day} {shown:%b}"


def _money(view: Customer360, amount, currency: str | None = None) -> str:
    return format_money(Decimal(amount), currency or view.currency)


def declined_work(view: Customer360) -> NextBestAction | None:
    """Work the customer declined and has neither had done nor booked since: its value, and one
    click to book it."""
    if view.whats_next is None:
        return None
    booked = view.booked_service_ids
    declined = [
        item.recommendation for item in view.whats_next.open_recommendations
        if item.recommendation.status == "declined"
        and item.recommendation.service_template_id not in booked
    ]
    if not declined:
        return None
    value = sum((rec.estimated_price or Decimal("0") for rec in declined), Decimal("0"))
    names = []
    for rec in declined[:3]:
        measured = f" ({rec.measured_value})" if rec.measured_value else ""
        names.append(f"{rec.service_template.name}{measured}")
    more = f" and {len(declined) - 3} more" if len(declined) > 3 else ""
    newest = declined[0]
    return NextBestAction(
        key="declined_work",
        title=f"Declined work: {_money(view, value)} open",
        detail=", ".join(names) + more + ".",
        tone="warning",
        action=Action("book_appointment", "Book the declined work", {
            "service": sorted({rec.service_template_id for rec in declined}),
            "vehicle": newest.visit.vehicle_id,
        }),
    )


def service_due(view: Customer360) -> NextBestAction | None:
    """The next service due (or overdue) by date or predicted mileage, unless already booked."""
    if view.whats_next is None:
        return None
    booked = view.booked_service_ids
    due = [item for item in view.whats_next.intervals if item.is_due and item.template.pk not in booked]
    if not due:
        return None
    item = due[0]
    vehicle = item.vehicle
    when = f"{item.due_on.day} {item.due_on:%b %Y}" if item.due_on else ""
    overdue = item.status == "overdue"
    by = " (by mileage)" if item.basis == "mileage" else ""
    title = f"{item.template.name} {'overdue' if overdue else 'due'}"
    return NextBestAction(
        key="service_due",
        title=title + (f" since {when}" if overdue and when else f" {when}" if when else ""),
        detail=f"{vehicle.year} {vehicle.make} {vehicle.model}{by}."
        + (f" {len(due) - 1} more service(s) due." if len(due) > 1 else ""),
        tone="danger" if overdue else "warning",
        action=Action("book_appointment", f"Book {item.template.name.lower()}",
                      {"service": [item.template.pk], "vehicle": vehicle.pk}),
    )


def rebook(view: Customer360) -> NextBestAction | None:
    """Nothing booked and the last visit is old (or there was none): offer to book."""
    if view.next_appointment is not None or not view.vehicles:
        return None
    if view.whats_next is not None and any(item.is_due for item in view.whats_next.intervals):
        return None  # service_due says it better
    last = view.spend.last_visit_at
    if last is not None and view.now - last < REBOOK_AFTER:
        return None
    detail = f"Last visit {_ago(view, last)}." if last else "No completed visit yet."
    return NextBestAction(
        key="rebook", title="No visit booked", detail=detail, tone="info",
        action=Action("book_appointment", "Book a visit"),
    )


def _on_hold(view: Customer360) -> bool:
    last = view.last_contacted_at
    return last is not None and view.now - last < CONTACT_HOLD


def _loyalty_tab(label: str) -> Action | None:
    return Action("open_tab", label, {"tab": "loyalty"}) if tab_get("loyalty") else None


def points(view: Customer360) -> NextBestAction | None:
    """Points the customer can spend, and what they are worth at checkout."""
    summary = view.loyalty
    if summary is None or summary.points_balance <= 0:
        return None
    worth = _money(view, summary.points_value, summary.currency)
    if view.can_send_message and not _on_hold(view):
        action = Action("send_message", "Tell them", {
            "text": f"Hi {view.customer.first_name}, you have {summary.points_balance:,} points "
                    f"worth {worth} to use on your next visit.",
        })
    else:
        action = _loyalty_tab("See points")
    return NextBestAction(
        key="points", title=f"{summary.points_balance:,} points worth {worth}",
        detail="They can pay part of the next job card with them.", tone="success", action=action,
    )


def next_tier(view: Customer360) -> NextBestAction | None:
    """How far the customer is from the next tier, in money when the rules allow it."""
    summary = view.loyalty
    if summary is None or not summary.next_tier_name or summary.points_to_next_tier <= 0:
        return None
    if view.spend_to_next_tier is not None:
        title = f"{_money(view, view.spend_to_next_tier, summary.currency)} more to {summary.next_tier_name}"
    else:
        title = f"{summary.points_to_next_tier:,} points to {summary.next_tier_name}"
    return NextBestAction(
        key="next_tier", title=title,
        detail=f"{summary.points_to_next_tier:,} points to go; {summary.progress_percent}% of the way.",
        tone="info", action=_loyalty_tab("See loyalty"),
    )


def contact(view: Customer360) -> NextBestAction | None:
    """How to reach the customer — or a hold when they were contacted in the last few days."""
    customer = view.customer
    last = view.last_contacted_at
    if _on_hold(view):
        return NextBestAction(
            key="contact_hold",
            title=f"Hold contact until {_date(view, last + CONTACT_HOLD)}",
            detail=f"Last contacted {_ago(view, last)}; give them a few days.",
            tone="warning",
            action=Action("open_tab", "See communications", {"tab": "communications"})
            if tab_get("communications") else None,
        )
    channel = customer.preferred_channel
    label = customer.get_preferred_channel_display()
    address = customer.email if channel == "email" else customer.phone
    if view.can_send_message:
        action = Action("send_message", f"Send {label}", {"channel": channel})
    elif channel == "email" and customer.email:
        action = Action("email", "Write an email", {"href": f"mailto:{customer.email}"})
    elif customer.phone:
        action = Action("call", "Call", {"href": f"tel:{customer.phone}"})
    else:
        action = None
    return NextBestAction(
        key="preferred_channel", title=f"Prefers {label}",
        detail=address or "No address on file for this channel.", tone="info", action=action,
    )


RULES: list[Rule] = [declined_work, service_due, rebook, points, next_tier, contact]


def actions_for(view: Customer360) -> list[NextBestAction]:
    """The card's actions, most valuable first."""
    return [action for rule in RULES if (action := rule(view)) is not None]
