from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "servicebay.core"
    label = "core"
    verbose_name = "ServiceBay core"
