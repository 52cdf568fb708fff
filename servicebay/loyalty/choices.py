"""Enumerations of the loyalty app, in one place."""

from django.db import models


class TransactionType(models.TextChoices):
    EARN = "earn", "Earn"
    REDEEM = "redeem", "Redeem"
    ADJUSTMENT = "adjustment", "Adjustment"
    EXPIRE = "expire", "Expire"


class ReferenceType(models.TextChoices):
    """What a ledger row refers to (``reference_type`` + ``reference_id``)."""

    JOB_CARD = "shop.jobcard", "Job card"
    MANUAL = "manual", "Manual adjustment"
    TRANSACTION = "loyalty.transaction", "Ledger row"
    EXPIRY = "loyalty.expiry", "Expiry run"


class TierBasis(models.TextChoices):
    LIFETIME = "lifetime", "Lifetime points"
    ROLLING_12_MONTHS = "rolling_12_months", "Points in the last 12 months"


class AwardOn(models.TextChoices):
    COMPLETED = "completed", "When the job card is completed"
    CLOSED = "closed", "When the job card is closed (paid)"


class Rounding(models.TextChoices):
    DOWN = "down", "Round down"
    NEAREST = "nearest", "Round to nearest (half up)"
    UP = "up", "Round up"


# Job line kinds that can earn points (discounts reduce the eligible spend instead).
EARNING_LINE_KINDS = ("labor", "part", "fee")
