"""``{% load messaging %}``: the communications panel and the send form, for any page.

- ``{% communications_panel customer %}`` renders the whole panel (consent, preferences, send
  form, history) — what Customer 360's "Communications" tab includes.
- ``{% send_message_form customer %}`` renders only the send form.
- ``{{ message|will_send_at }}`` → "Thu 08:00" on the recipient's clock.
"""

from __future__ import annotations

from django import template

from ..forms import SendMessageForm
from ..models import Message
from ..outbox import local_time_label

register = template.Library()


@register.inclusion_tag("messaging/partials/customer_panel_body.html", takes_context=True)
def communications_panel(context, customer):
    from ..selectors import customer_for_messaging
    from ..views import panel_context

    request = context["request"]
    return {**panel_context(request, customer_for_messaging(customer_id=customer.pk)),
            "request": request, "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("messaging/partials/send_form_body.html", takes_context=True)
def send_message_form(context, customer):
    from servicebay.core.roles import user_can

    request = context["request"]
    return {"customer": customer, "send_form": SendMessageForm(), "request": request, "standalone": True,
            "csrf_token": context.get("csrf_token"), "can_send": user_can(request.user, "messaging.send")}


@register.filter
def will_send_at(message: Message) -> str:
    return local_time_label(message)
