from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "servicebay.demo"
    label = "demo"
    verbose_name = "Demo data"
