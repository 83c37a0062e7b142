from django.urls import path

from deployments.views import DeploymentViewSet

urlpatterns = [
    path("deployments", DeploymentViewSet.as_view({"get": "list", "post": "create"}), name="deployment-list"),
    path(
        "deployments/<str:deployment_id>",
        DeploymentViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="deployment-detail",
    ),
    path("deployments/<str:deployment_id>/logs", DeploymentViewSet.as_view({"get": "logs"}), name="deployment-logs"),
]
