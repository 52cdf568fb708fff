from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "servicebay.activity"
    label = "activity"
    verbose_name = "Activity"
