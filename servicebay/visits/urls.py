from django.urls import path

from . import views

app_name = "visits"

urlpatterns = [
    path("customers/<int:customer_id>/timeline/", views.timeline, name="timeline"),
    path("customers/<int:customer_id>/check-in/", views.visit_check_in, name="check_in"),
    path("<int:visit_id>/", views.visit_detail, name="visit_detail"),
    path("<int:visit_id>/check-out/", views.visit_check_out, name="check_out"),
    path("<int:visit_id>/satisfaction/", views.visit_rate, name="rate"),
    path("<int:visit_id>/recommendations/", views.recommendation_add, name="recommendation_add"),
    path("recommendations/<int:recommendation_id>/accept/", views.recommendation_accept,
         name="recommendation_accept"),
    path("recommendations/<int:recommendation_id>/decline/", views.recommendation_decline,
         name="recommendation_decline"),
    path("rate/<str:token>/", views.satisfaction_survey, name="satisfaction_survey"),
]
