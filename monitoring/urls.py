from django.urls import path

from monitoring import views

urlpatterns = [path("metrics", views.MetricsView.as_view(), name="metrics")]
