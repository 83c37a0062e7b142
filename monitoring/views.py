"""`GET /metrics`: the platform's metrics in Prometheus' text format, for scrapers `monitoring.access` lets in."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from monitoring.access import may_scrape
from monitoring.collector import PlatformCollector
from monitoring.requests import REQUEST_SECONDS

REFUSED = (
    "Metrics need the bearer token METRICS_TOKEN names, or an address in METRICS_ALLOWED_NETWORKS "
    "(see the README's Monitoring section)."
)


def scrape_registry() -> CollectorRegistry:
    """The platform's collector, and the request histograms: this process's, or every gunicorn worker's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    return registry


def metrics(request: HttpRequest) -> HttpResponse:
    # Who asks is checked before what: like the API, an unknown caller learns nothing, not even the methods.
    if not may_scrape(request):
        response = JsonResponse({"detail": REFUSED}, status=401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
