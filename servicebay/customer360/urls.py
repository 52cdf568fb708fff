app_name = "customer360"
urlpatterns: list = []
