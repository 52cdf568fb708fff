from django.urls import path

from . import views

app_name = "warehouse"
urlpatterns = [
    path("", views.warehouse_status, name="status"),
    path("sync/", views.warehouse_sync_now, name="sync"),
]
