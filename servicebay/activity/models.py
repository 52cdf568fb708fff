from django.conf import settings
from django.db import models
from django.utils import timezone


class Event(models.Model):
    """One business change others care about, appended in the same transaction as the change.

    On PostgreSQL ``txid`` holds the writing transaction's id (``pg_current_xact_id()``) so a
    consumer can read only below the snapshot horizon and never skip a late-committing row
    (DESIGN §3). On SQLite commits are serial and ``id`` order is commit order.
    """

    kind = models.CharField(max_length=64)
    customer = models.ForeignKey(
        "shop.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.BigIntegerField(null=True, blank=True)
    actor = models.CharField(max_length=64)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    payload = models.JSONField(default=dict, blank=True)
    txid = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="event_customer_feed"),
            models.Index(fields=["kind", "id"], name="event_kind"),
            models.Index(fields=["txid"], name="event_txid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.subject_id} @ {self.occurred_at:%Y-%m-%d %H:%M}"
