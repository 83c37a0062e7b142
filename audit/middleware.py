from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.context import RequestContext, current_request


def door_of(path: str) -> str:
    if path.startswith("/admin"):
        return "admin"
    if path.startswith("/console"):
        return "console"
    return "api"


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_request.set(
            RequestContext(via=door_of(request.path), client_address=request.META.get("REMOTE_ADDR"))
        )
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)
