"""Consent as a set: the customers that may be contacted on a channel for a purpose.

The messaging app owns the consent ledger and answers for one customer with ``can_contact``.
Filters and exports need the same answer for a million customers at once, so ``contactable_q``
states the same rules as one SQL condition (correlated subqueries on the ledger's
(customer, channel, purpose, recorded_at) index). ``tests/segments/test_consent.py`` checks that
both agree on every customer of a varied ledger.

Rules (messaging.consent): an address is needed; a STOP keyword in force blocks the channel; an
active suppression of the address blocks it; the latest statement for (channel, purpose) decides,
and marketing needs an explicit grant while transactional only needs no withdrawal.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import BooleanField, CharField, Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import Exact

from .sources import FeatureUnavailable, optional_model

STOP_KEYWORD = "stop_keyword"
KEYWORD_SOURCES = ("stop_keyword", "start_keyword")


def require_ledger():
    """The messaging app's consent and suppression models, or a clear error without them."""
    record = optional_model("messaging", "ConsentRecord")
    suppression = optional_model("messaging", "Suppression")
    if record is None or suppression is None:
        raise FeatureUnavailable(
            "Consent needs the messaging app's consent ledger, which this installation does not "
            "have; without it nobody counts as opted in.",
            field="channel",
        )
    return record, suppression


def address_field(channel: str) -> str:
    return "email" if channel == "email" else "phone"


def contactable_q(*, channel: str, purpose: str, at: datetime) -> Q:
    """Customers that ``can_contact(customer, channel, purpose, at)`` would allow."""
    record, suppression = require_ledger()
    field = address_field(channel)
    latest_granted = (
        record.objects.filter(customer=OuterRef("pk"), channel=channel, purpose=purpose,
                              recorded_at__lte=at)
        .order_by("-recorded_at", "-id")
        .values("granted")[:1]
    )
    # No statement at all: transactional is implied, marketing is not.
    granted = Coalesce(Subquery(latest_granted), Value(purpose == "transactional"),
                       output_field=BooleanField())
    last_keyword = (
        record.objects.filter(customer=OuterRef("pk"), channel=channel,
                              source__in=KEYWORD_SOURCES, recorded_at__lte=at)
        .order_by("-recorded_at", "-id")
        .values("source")[:1]
    )
    stopped = Exact(Coalesce(Subquery(last_keyword), Value(""), output_field=CharField()),
                    STOP_KEYWORD)
    address = Lower(OuterRef("email")) if channel == "email" else OuterRef("phone")
    suppressed = Exists(
        suppression.objects.filter(channel=channel, address=address, lifted_at__isnull=True,
                                   created_at__lte=at)
    )
    return (
        ~Q(**{field: ""})
        & Q(Exact(granted, True))
        & ~Q(stopped)
        & ~Q(suppressed)
    )
