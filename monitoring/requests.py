"""Request latency by endpoint: a histogram labelled by the URL route pattern, never the raw path.

A raw path holds ids (`/projects/x/runs/<uuid>`), one time series per run for ever; the
route pattern (`projects/<str:project_reference>/runs/<uuid:run_id>`) is one per endpoint,
a set bounded by the URL map. Paths no route matches share one label.

gunicorn serves from several worker processes, each with its own counts: with
PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it) prometheus_client keeps them in
files there and the scrape adds them up (`monitoring.views`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import Histogram

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_SECONDS = Histogram(
    "llmp_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL route pattern, method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,
)


# A route's parameters, as a path pattern (`<str:name>`) or a regex group (`(?P<name>[^/]+)`) writes them.
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>(?:[^()\\]|\\.)*\)")


def route_of(request: HttpRequest) -> str:
    """The route that answered, its parameters written `<name>` whichever way the URL map wrote them."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return UNMATCHED
    route = PARAMETER.sub(lambda found: f"<{found[1] or found[2]}>", match.route)
    return "/" + route.removeprefix("^").removesuffix("$").removesuffix("\\Z")


class RequestLatencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method and request.method in METHODS else "other"
        REQUEST_SECONDS.labels(route_of(request), method, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        return response
