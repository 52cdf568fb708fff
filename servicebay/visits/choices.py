"""Enumerations of the visits app: visit types, recommendation states, the satisfaction scale."""

from __future__ import annotations

from datetime import timedelta

from django.db import models


class VisitType(models.TextChoices):
    """Scheduled iff the visit came from an appointment (DESIGN §2)."""

    SCHEDULED = "scheduled", "Scheduled"
    WALK_IN = "walk_in", "Walk-in"


class RecommendationStatus(models.TextChoices):
    SUGGESTED = "suggested", "Suggested"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"


# suggested → accepted | declined; a declined item may be accepted later (recovered work).
RECOMMENDATION_TRANSITIONS: dict[str, frozenset[str]] = {
    RecommendationStatus.SUGGESTED: frozenset(
        {RecommendationStatus.ACCEPTED, RecommendationStatus.DECLINED}
    ),
    RecommendationStatus.DECLINED: frozenset({RecommendationStatus.ACCEPTED}),
    RecommendationStatus.ACCEPTED: frozenset(),
}
RECOMMENDATION_OPEN = (RecommendationStatus.SUGGESTED, RecommendationStatus.DECLINED)


class SatisfactionSource(models.TextChoices):
    ADVISOR = "advisor", "Entered by an advisor"
    CUSTOMER_LINK = "customer_link", "Customer survey link"


# The satisfaction scale: 1 (very dissatisfied) … 5 (very satisfied). A five-point scale is what
# customers know from review sites; the database refuses anything outside it.
SATISFACTION_MIN = 1
SATISFACTION_MAX = 5
SATISFACTION_LABELS: dict[int, str] = {
    1: "Very dissatisfied",
    2: "Dissatisfied",
    3: "Neutral",
    4: "Satisfied",
    5: "Very satisfied",
}

# How long a customer's survey link stays valid after it was issued.
SATISFACTION_LINK_MAX_AGE = timedelta(days=14)


class IntervalStatus(models.TextChoices):
    """Where a vehicle stands against one service interval."""

    OVERDUE = "overdue", "Overdue"
    DUE_SOON = "due_soon", "Due soon"
    UPCOMING = "upcoming", "Upcoming"


# An interval is "due soon" this many days (or distance units) before it falls due.
DUE_SOON_DAYS = 30
DUE_SOON_DISTANCE = 500
