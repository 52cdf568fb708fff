"""Today at a glance."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from servicebay.core.views import permission_required

from .. import selectors
from ..choices import JobCardStatus
from .appointments import _with_actions


@require_GET
@permission_required("shop.view")
def home(request: HttpRequest) -> HttpResponse:
    """Today at a glance: each location's appointments of its local day and the open job cards."""
    locations = list(selectors.location_list())
    appointments = _with_actions(selectors.appointments_today(locations=locations, now=timezone.now()))
    active_cards = list(selectors.job_cards_active()[:50])
    return render(request, "shop/home.html", {
        "locations": locations,
        "appointments": appointments,
        "active_cards": active_cards,
        "waiting_count": sum(1 for a in appointments if a.status in ("booked", "confirmed")),
        "in_progress_count": sum(1 for c in active_cards if c.status == JobCardStatus.IN_PROGRESS),
        "many_locations": len(locations) > 1,
    })
