"""URL map. API paths are exactly those of the REST contract; people use /console.

Errors on API paths are JSON (llmplatform.middleware), so there are no handler404/500 here.
"""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from llmplatform import health
from llmplatform.schema_view import SchemaView

urlpatterns = [
    path("", RedirectView.as_view(url="/console/", permanent=False)),
    path("healthz", health.HealthView.as_view(), name="healthz"),
    path("_internal/health", health.HealthView.as_view(), name="internal-health"),
    path("openapi.json", SchemaView.as_view(), name="openapi"),
    # Swagger UI's start-up script is a file of its own (/docs?script=), as the Content-Security-Policy wants.
    path(
        "docs",
        SpectacularSwaggerSplitView.as_view(url_name="openapi", template_name="docs/swagger_ui.html"),
        name="docs",
    ),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("console/", include("console.urls")),
    path("", include("audit.urls")),
    path("", include("runs.urls")),
    path("", include("datasets.urls")),
    path("", include("deployments.urls")),
    path("", include("deid.urls")),
    path("", include("monitoring.urls")),
    path("", include("notifications.urls")),
    path("", include("retention.urls")),
]
