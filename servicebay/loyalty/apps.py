from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "servicebay.loyalty"
    label = "loyalty"
    verbose_name = "Loyalty"

    def ready(self) -> None:
        from servicebay.shop import signals

        from . import receivers

        signals.job_card_status_changed.connect(
            receivers.on_job_card_status_changed, dispatch_uid="loyalty.status_changed"
        )
        signals.job_line_removed.connect(
            receivers.on_job_line_removed, dispatch_uid="loyalty.line_removed"
        )
        signals.job_card_totals_changed.connect(
            receivers.on_job_card_totals_changed, dispatch_uid="loyalty.totals_changed"
        )
