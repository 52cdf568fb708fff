"""Keep ``CustomerStats`` current from the writes' own transactions.

Connected in ``SegmentsConfig.ready``. Every receiver recomputes the customer's row from its
sources (idempotent, so a retried request or a signal sent twice changes nothing); a balance
change recomputes only the loyalty columns, the one part of the row it can move. Delete
receivers never create a row: the customer may be in the middle of being erased.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from servicebay.shop.models import Customer, JobCard
from servicebay.shop.signals import job_card_status_changed

from .models import CustomerStats
from .services.stats import customer_stats_loyalty_refresh, customer_stats_refresh
from .sources import optional_model


def on_customer_saved(sender, instance: Customer, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        CustomerStats.objects.bulk_create([CustomerStats(customer_id=instance.pk)],
                                          ignore_conflicts=True)


def on_job_card_status_changed(sender, job_card: JobCard, **kwargs) -> None:
    customer_stats_refresh(customer_id=job_card.customer_id)


def _recommendation_customer(instance) -> int | None:
    visit_model = optional_model("visits", "CustomerVisit")
    return (
        visit_model.objects.filter(pk=instance.visit_id).values_list("customer_id", flat=True).first()
        if visit_model is not None
        else None
    )


def on_recommendation_saved(sender, instance, raw: bool = False, **kwargs) -> None:
    customer_id = None if raw else _recommendation_customer(instance)
    if customer_id is not None:
        customer_stats_refresh(customer_id=customer_id)


def on_recommendation_deleted(sender, instance, **kwargs) -> None:
    customer_id = _recommendation_customer(instance)
    if customer_id is not None:
        customer_stats_refresh(customer_id=customer_id, create=False)


def on_balance_saved(sender, instance, raw: bool = False, **kwargs) -> None:
    if not raw:
        customer_stats_loyalty_refresh(customer_id=instance.customer_id)


def on_balance_deleted(sender, instance, **kwargs) -> None:
    customer_stats_loyalty_refresh(customer_id=instance.customer_id, create=False)


def connect() -> None:
    uid = "segments.stats"
    post_save.connect(on_customer_saved, sender=Customer, dispatch_uid=f"{uid}.customer")
    job_card_status_changed.connect(on_job_card_status_changed, dispatch_uid=f"{uid}.jobcard")
    recommendation = optional_model("visits", "VisitRecommendation")
    if recommendation is not None:
        post_save.connect(on_recommendation_saved, sender=recommendation, dispatch_uid=f"{uid}.rec")
        post_delete.connect(on_recommendation_deleted, sender=recommendation,
                            dispatch_uid=f"{uid}.rec_del")
    balance = optional_model("loyalty", "CustomerLoyaltyBalance")
    if balance is not None:
        post_save.connect(on_balance_saved, sender=balance, dispatch_uid=f"{uid}.balance")
        post_delete.connect(on_balance_deleted, sender=balance, dispatch_uid=f"{uid}.balance_del")
