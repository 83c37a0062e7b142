"""API paths speak JSON, whatever goes wrong and wherever it goes wrong.

DRF's exception handler (llmplatform.api) shapes the errors of API views; this
middleware covers what happens outside them: unknown URLs, Django's own 405s and
400s, the DEBUG error pages, and request bodies over the size limit.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from llmplatform.api import is_api_path


def body_too_large(request: HttpRequest) -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        {"detail": f"The request body is larger than the limit of {limit} bytes.", "limit_bytes": limit}, status=413
    )


def describe_error(request: HttpRequest, response: HttpResponse) -> str:
    if response.status_code == 404:
        return f"No such path: {request.path}"
    if response.status_code == 405:
        allowed = response.headers.get("Allow", "")
        return f"Method {request.method} is not allowed on {request.path}; allowed: {allowed or 'none'}."
    if response.status_code >= 500:
        return "Internal server error; the incident was logged."
    return f"{response.reason_phrase}."


def read_into_memory(request: HttpRequest) -> bool:
    """JSON and form bodies are parsed whole in memory, so their size is limited here
    (DRF's parsers read the stream without Django's DATA_UPLOAD_MAX_MEMORY_SIZE check).
    Multipart uploads and octet-stream chunks stream to disk; their views limit them."""
    media_type = request.content_type or ""
    return media_type in {"application/json", "application/x-www-form-urlencoded"} or media_type.endswith("+json")


def content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class JsonApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_path(request.path):
            return self.get_response(request)
        if read_into_memory(request) and content_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return body_too_large(request)
        response = self.get_response(request)
        if response.status_code >= 400 and response.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return JsonResponse({"detail": describe_error(request, response)}, status=response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # A multipart form field over the limit surfaces inside the view.
        if isinstance(exception, RequestDataTooBig) and is_api_path(request.path):
            return body_too_large(request)
        return None
