"""Loyalty panels other screens embed, without knowing the loyalty app's internals.

``{% load loyalty %}`` then:
- ``{% loyalty_customer_panel customer %}`` → the customer's balance, tier, progress, ledger with
  the reason for each row, and (managers) the adjustment form. Needs ``request`` in the context.
- ``{% loyalty_redeem_panel card %}`` → the redeem form of a job card (points available, the most
  this card can take) and the redemptions already on it. Needs ``request`` in the context.
"""

from __future__ import annotations

from django import template

from servicebay.core.roles import user_can
from servicebay.loyalty.views import customer_panel_context, redeem_panel_context

register = template.Library()


@register.inclusion_tag("loyalty/partials/customer_panel_body.html", takes_context=True)
def loyalty_customer_panel(context, customer) -> dict:
    request = context["request"]
    if not user_can(request.user, "loyalty.view"):
        return {"hidden": True}
    return {**customer_panel_context(request, customer), "request": request,
            "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("loyalty/partials/redeem_panel.html", takes_context=True)
def loyalty_redeem_panel(context, card) -> dict:
    request = context["request"]
    if not user_can(request.user, "loyalty.view"):
        return {"hidden": True}
    return {**redeem_panel_context(request, card), "request": request,
            "csrf_token": context.get("csrf_token")}
