from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "servicebay.warehouse"
    label = "warehouse"
    verbose_name = "Warehouse sync"
