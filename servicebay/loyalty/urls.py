from django.urls import path

from . import views

app_name = "loyalty"
urlpatterns = [
    path("", views.program_list, name="program_list"),
    path("programs/new/", views.program_create, name="program_create"),
    path("programs/preview/", views.program_preview, name="program_preview"),
    path("programs/<int:pk>/", views.program_edit, name="program_edit"),
    path("customers/<int:customer_id>/", views.customer_loyalty, name="customer_loyalty"),
    path("customers/<int:customer_id>/adjust/", views.points_adjust, name="points_adjust"),
    path("balances/<int:balance_id>/ledger/", views.ledger_rows, name="ledger_rows"),
    path("transactions/<int:pk>/", views.transaction_explain, name="transaction_explain"),
    path("job-cards/<int:pk>/", views.job_card_loyalty, name="job_card_loyalty"),
    path("reports/liability/", views.liability_report, name="liability_report"),
    path("ledger.csv", views.ledger_export, name="ledger_export"),
]
