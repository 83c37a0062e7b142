"""API paths speak JSON, whatever goes wrong and wherever it goes wrong.

DRF's exception handler (llmplatform.api) shapes the errors of API views; this
middleware covers what happens outside them: unknown URLs, Django's own 405s and
400s, and the DEBUG error pages. Bodies over the size limit: llmplatform.bodies.
`NulCharacterMiddleware` refuses a URL no lookup could take.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from llmplatform.api import is_api_path


def describe_error(request: HttpRequest, response: HttpResponse) -> str:
    if response.status_code == 404:
        return f"No such path: {request.path}"
    if response.status_code == 405:
        allowed = response.headers.get("Allow", "")
        return f"Method {request.method} is not allowed on {request.path}; allowed: {allowed or 'none'}."
    if response.status_code >= 500:
        return "Internal server error; the incident was logged."
    return f"{response.reason_phrase}."


class JsonApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_path(request.path):
            return self.get_response(request)
        response = self.get_response(request)
        if response.status_code >= 400 and response.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return JsonResponse({"detail": describe_error(request, response)}, status=response.status_code)
        return response


NUL_IN_URL = "The URL holds a NUL character (%00); no path or query parameter may."


def holds_nul(request: HttpRequest) -> bool:
    return "\x00" in request.path or any(
        "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
    )


class NulCharacterMiddleware:
    """No path or query parameter holds a NUL character: PostgreSQL can neither store nor compare
    text with one, so a lookup or a filter given one would fail as a 500 instead of a 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not holds_nul(request):
            return self.get_response(request)
        if is_api_path(request.path):
            return JsonResponse({"detail": NUL_IN_URL}, status=400)
        return HttpResponseBadRequest(NUL_IN_URL, content_type="text/plain; charset=utf-8")
