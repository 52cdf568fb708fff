from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "servicebay.loyalty"
    label = "loyalty"
    verbose_name = "Loyalty"
