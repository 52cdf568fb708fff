from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "servicebay.visits"
    label = "visits"
    verbose_name = "Service visits"
