"""Where segment facts come from in the other apps, resolved lazily.

Segments read visits, loyalty balances and the consent ledger of other apps. Those apps may be
absent (a shop that runs without loyalty) or not migrated yet, so every lookup goes through
``django.apps`` at call time and says clearly what is missing instead of failing on import.

A visit counts once its job card is completed or closed, and its spend is the card's total. The
visits app keeps ``CustomerVisit.total_spend`` equal to exactly that (one visit per card), so
segments read the job cards: the same numbers with or without the visits app, from one table
whose status changes the shop signals inside its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db.models import Model, QuerySet

from servicebay.core.errors import DomainError
from servicebay.shop.choices import JobCardStatus
from servicebay.shop.models import JobCard

COUNTED_JOB_STATUSES = (JobCardStatus.COMPLETED, JobCardStatus.CLOSED)


class FeatureUnavailable(DomainError):
    """A condition or export needs an app (loyalty, messaging, visits) that is not installed."""

    status_code = 422


def optional_model(app_label: str, model_name: str) -> type[Model] | None:
    """The model if its app is installed and defines it, else None."""
    if not apps.is_installed(f"servicebay.{app_label}"):
        return None
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


def required_model(app_label: str, model_name: str, *, feature: str, field: str | None = None):
    model = optional_model(app_label, model_name)
    if model is None:
        raise FeatureUnavailable(
            f"{feature} needs {app_label}.{model_name}, which this installation does not have.",
            field=field,
        )
    return model


@dataclass(frozen=True)
class VisitSource:
    """A queryset of counted visits and the names of its customer, spend and time columns."""

    queryset: QuerySet
    customer: str
    spend: str
    at: str


def visit_source() -> VisitSource:
    """Counted visits: job cards that are completed or closed."""
    return VisitSource(
        queryset=JobCard.objects.filter(status__in=COUNTED_JOB_STATUSES),
        customer="customer_id", spend="total", at="opened_at",
    )


def open_recommendations() -> QuerySet | None:
    """Recommendations still open (suggested or declined), or None without the visits app."""
    model = optional_model("visits", "VisitRecommendation")
    if model is None:
        return None
    from servicebay.visits.choices import RECOMMENDATION_OPEN

    return model.objects.filter(status__in=RECOMMENDATION_OPEN)


def loyalty_balances() -> QuerySet | None:
    """Loyalty balances (customer, points_balance, tier), or None without the loyalty app."""
    model = optional_model("loyalty", "CustomerLoyaltyBalance")
    if model is None:
        return None
    return model.objects.all()
