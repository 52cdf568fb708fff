from django.urls import path

from . import views

app_name = "customer360"
urlpatterns = [
    path("<int:customer_id>/", views.customer_detail, name="detail"),
    path("<int:customer_id>/activity/", views.activity, name="activity"),
    path("<int:customer_id>/notes/", views.note_add, name="note_add"),
    path("<int:customer_id>/appointments/", views.appointment_create, name="appointment_create"),
    path("<int:customer_id>/appointments/new/", views.appointment_form, name="appointment_form"),
    path("<int:customer_id>/appointments/conflicts/", views.appointment_conflicts,
         name="appointment_conflicts"),
    path("<int:customer_id>/messages/", views.message_send, name="message_send"),
    path("<int:customer_id>/messages/new/", views.message_form, name="message_form"),
    path("<int:customer_id>/messages/preview/", views.message_preview, name="message_preview"),
]
