from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from .api import api
from .core.auth import LoginView

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("visits/", include("servicebay.visits.urls")),
    path("loyalty/", include("servicebay.loyalty.urls")),
    path("messaging/", include("servicebay.messaging.urls")),
    path("customer360/", include("servicebay.customer360.urls")),
    path("segments/", include("servicebay.segments.urls")),
    path("warehouse/", include("servicebay.warehouse.urls")),
    path("", include("servicebay.shop.urls")),
]
