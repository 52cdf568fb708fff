from django.urls import path

from . import views

app_name = "segments"
urlpatterns = [
    path("", views.segment_list, name="segment_list"),
    path("new/", views.segment_create, name="segment_create"),
    path("import/", views.segment_import, name="segment_import"),
    path("preview/", views.segment_preview, name="segment_preview"),
    path("<int:pk>/", views.segment_detail, name="segment_detail"),
    path("<int:pk>/edit/", views.segment_edit, name="segment_edit"),
    path("<int:pk>/count/", views.segment_count, name="segment_count"),
    path("<int:pk>/archive/", views.segment_archive, name="segment_archive"),
    path("<int:pk>/snapshots/", views.snapshot_take, name="snapshot_take"),
    path("<int:pk>/snapshots/<int:before_id>/diff/<int:after_id>/", views.snapshot_diff,
         name="snapshot_diff"),
    path("<int:pk>/explain/", views.segment_explain, name="segment_explain"),
    path("<int:pk>/export/", views.segment_export, name="segment_export"),
]
