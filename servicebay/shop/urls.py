from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("", views.home, name="home"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/vehicles/", views.vehicle_add, name="vehicle_add"),
    path("customers/<int:pk>/notes/", views.note_add, name="note_add"),
    path("notes/<int:pk>/pin/", views.note_pin, name="note_pin"),
    path("customers/<int:pk>/appointments/new/", views.appointment_book, name="appointment_book"),
    path("customers/<int:pk>/appointments/conflicts/", views.appointment_conflict_check,
         name="appointment_conflict_check"),
    path("customers/<int:pk>/job-cards/new/", views.job_card_walk_in, name="job_card_walk_in"),
    path("appointments/", views.appointment_list, name="appointment_list"),
    path("appointments/<int:pk>/status/", views.appointment_status, name="appointment_status"),
    path("appointments/<int:pk>/check-in/", views.appointment_check_in, name="appointment_check_in"),
    path("job-cards/", views.job_card_list, name="job_card_list"),
    path("job-cards/<int:pk>/", views.job_card_detail, name="job_card_detail"),
    path("job-cards/<int:pk>/lines/", views.job_line_add, name="job_line_add"),
    path("job-cards/<int:pk>/parts/", views.job_card_part_search, name="job_card_part_search"),
    path("job-cards/<int:pk>/lines/<int:line_id>/remove/", views.job_line_remove,
         name="job_line_remove"),
    path("job-cards/<int:pk>/status/", views.job_card_transition, name="job_card_transition"),
    path("job-cards/<int:pk>/check-in/", views.job_card_check_in, name="job_card_check_in"),
    path("job-cards/<int:pk>/check-out/", views.job_card_check_out, name="job_card_check_out"),
    path("job-cards/<int:pk>/satisfaction/", views.job_card_rate, name="job_card_rate"),
]
