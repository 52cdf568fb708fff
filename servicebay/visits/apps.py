from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "servicebay.visits"
    label = "visits"
    verbose_name = "Service visits"

    def ready(self) -> None:
        from servicebay.shop import signals

        from .receivers import job_card_changed

        signals.job_card_totals_changed.connect(job_card_changed, dispatch_uid="visits.spend.totals")
        signals.job_card_status_changed.connect(job_card_changed, dispatch_uid="visits.spend.status")
