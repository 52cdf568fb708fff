from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "servicebay.shop"
    label = "shop"
    verbose_name = "Shop"
