from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from .choices import ReferenceType, TransactionType
from .errors import LedgerIsAppendOnly


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk ``update()`` and ``delete()`` are refused: history is only ever appended to."""

    def update(self, **kwargs):
        raise LedgerIsAppendOnly(self.model._meta.verbose_name_plural.capitalize())

    def delete(self):
        raise LedgerIsAppendOnly(self.model._meta.verbose_name_plural.capitalize())

    def bulk_update(self, objs, fields, batch_size=None):
        raise LedgerIsAppendOnly(self.model._meta.verbose_name_plural.capitalize())


class AppendOnlyModel(models.Model):
    """A row is written once. ``save()`` of an existing row and ``delete()`` raise.

    On PostgreSQL a trigger refuses UPDATE and DELETE as well (migration 0002), so raw SQL and
    other clients are held to the same rule.
    """

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True
        base_manager_name = "objects"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerIsAppendOnly(self._meta.verbose_name_plural.capitalize())
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerIsAppendOnly(self._meta.verbose_name_plural.capitalize())


class LoyaltyProgram(models.Model):
    """A points scheme. The rule documents here are the current ones; ``versions`` keep them all."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default="USD")
    accrual_rule = models.JSONField(default=dict)
    redemption_rule = models.JSONField(default=dict)
    tiers = models.JSONField(default=dict)
    is_active = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "LoyaltyRuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # No REGEXP (SQLite has it only on Django's own connections); the service checks letters.
            models.CheckConstraint(
                condition=Q(currency__length=3) & Q(currency=Upper("currency")),
                name="loyalty_program_currency_iso",
            ),
            # One active program per currency: a job card then earns and redeems in exactly one.
            models.UniqueConstraint(
                fields=["currency"], condition=Q(is_active=True), name="loyalty_one_active_program_per_currency"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LoyaltyRuleVersion(AppendOnlyModel):
    """One immutable snapshot of a program's rules; every ledger row points at the one it used."""

    program = models.ForeignKey(LoyaltyProgram, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    accrual_rule = models.JSONField()
    redemption_rule = models.JSONField()
    tiers = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=64)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(AppendOnlyModel.Meta):
        ordering = ["program", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["program", "number"], name="loyalty_rule_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} v{self.number}"

    def rules_json(self) -> dict:
        return {"accrual_rule": self.accrual_rule, "redemption_rule": self.redemption_rule,
                "tiers": self.tiers}


class CustomerLoyaltyBalance(models.Model):
    """A customer's standing in one program. Changed only together with a ledger row.

    ``points_balance`` equals the sum of the balance's ledger rows at every commit (checked by
    ``servicebay loyalty verify`` and, on PostgreSQL, by a deferred constraint trigger).
    ``points_owed`` is what a reversal could not take back because the points were already spent;
    later credits settle it first.
    """

    customer = models.ForeignKey(
        "shop.Customer", on_delete=models.PROTECT, related_name="loyalty_balances"
    )
    program = models.ForeignKey(LoyaltyProgram, on_delete=models.PROTECT, related_name="balances")
    points_balance = models.BigIntegerField(default=0)
    points_owed = models.BigIntegerField(default=0)
    lifetime_points = models.BigIntegerField(default=0)
    tier = models.CharField(max_length=30, blank=True)
    tier_changed_at = models.DateTimeField(null=True, blank=True)
    next_expiry_at = models.DateTimeField(null=True, blank=True)
    last_updated_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["customer", "program"]
        indexes = [
            models.Index(fields=["program", "tier"], name="loyalty_balance_program_tier"),
            models.Index(fields=["next_expiry_at"], name="loyalty_balance_next_expiry",
                         condition=Q(next_expiry_at__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["customer", "program"], name="loyalty_balance_per_program"),
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="loyalty_balance_nonneg"),
            models.CheckConstraint(condition=Q(points_owed__gte=0), name="loyalty_owed_nonneg"),
            models.CheckConstraint(condition=Q(lifetime_points__gte=0), name="loyalty_lifetime_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.program_id}: {self.points_balance}"


class LoyaltyTransaction(AppendOnlyModel):
    """One row of the points ledger. Never changed; corrections are new rows that reference it."""

    balance = models.ForeignKey(
        CustomerLoyaltyBalance, on_delete=models.PROTECT, related_name="transactions"
    )
    type = models.CharField(max_length=12, choices=TransactionType.choices)
    points = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reference_type = models.CharField(max_length=40, choices=ReferenceType.choices, blank=True)
    reference_id = models.CharField(max_length=64, blank=True)
    # A redemption's discount line. Not a foreign key: removing the line must leave this row as is.
    job_line_id = models.BigIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    rule_version = models.ForeignKey(
        LoyaltyRuleVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=160, null=True, blank=True, unique=True)
    # What the row was computed from (job lines, tier, value per point ...), for the explanation.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=64)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(AppendOnlyModel.Meta):
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["balance", "-id"], name="loyalty_tx_balance"),
            models.Index(fields=["reference_type", "reference_id"], name="loyalty_tx_reference"),
            models.Index(fields=["created_at", "id"], name="loyalty_tx_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(type=TransactionType.EARN, points__gt=0)
                    | Q(type__in=[TransactionType.REDEEM, TransactionType.EXPIRE], points__lt=0)
                    | (Q(type=TransactionType.ADJUSTMENT) & (~Q(points=0) | Q(reverses__isnull=False)))
                ),
                name="loyalty_tx_points_sign",
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="loyalty_tx_balance_after_nonneg"),
            # A row is reversed at most once, however often the reversal is retried.
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="loyalty_tx_reversed_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.points:+d} (#{self.pk})"
