from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("", views.index, name="index"),
    path("templates/new/", views.template_create, name="template_create"),
    path("templates/<int:pk>/", views.template_edit, name="template_edit"),
    path("templates/preview/", views.template_preview, name="template_preview"),
    path("templates/sms-count/", views.template_sms_count, name="template_sms_count"),
    path("templates/customers/", views.template_customer_search, name="template_customer_search"),
    path("journeys/new/", views.journey_create, name="journey_create"),
    path("journeys/<int:pk>/", views.journey_detail, name="journey_detail"),
    path("journeys/<int:pk>/active/", views.journey_toggle, name="journey_toggle"),
    path("journeys/<int:pk>/dry-run/", views.journey_dry_run, name="journey_dry_run"),
    path("customers/<int:pk>/", views.customer_panel, name="customer_panel"),
    path("customers/<int:pk>/send/", views.customer_send, name="customer_send"),
    path("customers/<int:pk>/consent/", views.customer_consent, name="customer_consent"),
    path("customers/<int:pk>/preferences/", views.customer_preferences, name="customer_preferences"),
    path("outbox/", views.message_list, name="message_list"),
    path("outbox/<int:pk>/", views.message_action, name="message_action"),
    path("suppressions/", views.suppression_list, name="suppression_list"),
    path("suppressions/<int:pk>/lift/", views.suppression_lift, name="suppression_lift"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("webhooks/<str:channel>/inbound/", views.webhook_inbound, name="webhook_inbound"),
    path("webhooks/<str:channel>/status/", views.webhook_status, name="webhook_status"),
]
