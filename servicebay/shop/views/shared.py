"""What the shop screens share: the acting person, error display, redirects, paging, the day."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from servicebay.core.actors import Actor
from servicebay.core.errors import DomainError
from servicebay.core.pagination import InvalidCursor, Page, keyset_page
from servicebay.core.views import form_add_domain_error

from ..models import Location

PAGE_SIZE = 25
SESSION_LOCATION = "shop.location_id"
WriteError = (DomainError, ValidationError)


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def _add_error(form: Form, exc: DomainError | ValidationError, aliases: dict[str, str] | None = None) -> None:
    """Put a service error on the form field the person filled in (``start_at`` → ``date``)."""
    if isinstance(exc, DomainError) and aliases and exc.field in aliases:
        form.add_error(aliases[exc.field], exc.message)
        return
    form_add_domain_error(form, exc)


def _error_text(exc: DomainError | ValidationError) -> str:
    return exc.message if isinstance(exc, DomainError) else " ".join(exc.messages)


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect that also works when the request came from htmx (full page navigation)."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _status(form: Form) -> int:
    return 422 if form.errors else 200


def _keyset(queryset, *, order: tuple[str, ...], cursor: str | None, scope: str) -> Page:
    """One page of a list; a tampered or stale cursor restarts at the first page."""
    try:
        return keyset_page(queryset, order=order, cursor=cursor, limit=PAGE_SIZE, scope=scope)
    except InvalidCursor:
        return keyset_page(queryset, order=order, cursor=None, limit=PAGE_SIZE, scope=scope)


def _local_today(location: Location) -> date:
    return timezone.now().astimezone(ZoneInfo(location.time_zone)).date()


def _default_location(request: HttpRequest, customer=None) -> Location | None:
    if customer is not None and customer.home_location_id:
        return customer.home_location
    remembered = request.session.get(SESSION_LOCATION)
    location = Location.objects.filter(pk=remembered).first() if remembered else None
    return location or Location.objects.first()
