"""`GET /metrics`: the platform's metrics in Prometheus' text format, for scrapers `monitoring.access` lets in."""

from __future__ import annotations

import os
from typing import Any, NoReturn

from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from monitoring.access import address_allowed, token_matches
from monitoring.collector import PlatformCollector
from monitoring.requests import REQUEST_SECONDS

REFUSED = (
    "Metrics need the bearer token METRICS_TOKEN names, or an address in METRICS_ALLOWED_NETWORKS "
    "(see the README's Monitoring section)."
)


class ScraperToken(BaseAuthentication):
    """METRICS_TOKEN as a bearer token: a scraper, not a user (the API's own tokens do not open /metrics)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        return (AnonymousUser(), "metrics-token") if token_matches(request._request) else None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="metrics"'


class ScraperTokenScheme(OpenApiAuthenticationExtension):
    """How the API description names METRICS_TOKEN: an HTTP bearer token."""

    target_class = ScraperToken
    name = "metricsToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "METRICS_TOKEN"}


class MayScrape(BasePermission):
    message = REFUSED

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.auth == "metrics-token" or address_allowed(request._request)


def scrape_registry() -> CollectorRegistry:
    """The platform's collector, and the request histograms: this process's, or every gunicorn worker's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    return registry


class MetricsView(APIView):
    authentication_classes = [ScraperToken]
    permission_classes = [MayScrape]
    serializer_class = None  # the answer is Prometheus' text format, described below

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> NoReturn:
        raise NotAuthenticated(REFUSED)

    @extend_schema(
        tags=["monitoring"],
        summary="Prometheus metrics (a bearer token of their own, METRICS_TOKEN, or an allowed address)",
        request=None,
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Prometheus' text format."),
            # Its body is every refusal's (llmplatform.schema); a refused address is a 401 too, never a 403.
            401: OpenApiResponse(description="Neither METRICS_TOKEN nor an address in METRICS_ALLOWED_NETWORKS."),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
