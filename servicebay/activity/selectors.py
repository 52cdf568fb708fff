"""Reads of the event log."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Event


def event_list_for_customer(*, customer_id: int, kinds: list[str] | None = None) -> QuerySet[Event]:
    """Newest first, with the actor loaded; uses the (customer, occurred_at, id) index."""
    qs = Event.objects.filter(customer_id=customer_id).select_related("actor_user")
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return qs.order_by("-occurred_at", "-id")
