"""Request bodies outside the upload endpoints: at most MAX_JSON_BODY_BYTES, in memory, whatever their type.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE (the MAX_JSON_BODY_BYTES setting) bounds form fields
only: its default upload handlers stream any file part of a multipart body to a temporary
file, whatever the view does with it. So every body that is not an upload is bounded here:

- JSON and form bodies, parsed whole in memory (DRF's JSON parser reads the stream past
  Django's own check), are refused by their Content-Length before anything reads them.
- Multipart bodies go through `BoundedMemoryUploadHandler`, the one upload handler of every
  view that does not set its own. It refuses a body over the limit before reading a byte of
  it and keeps what it accepts in memory: nothing is ever written to disk.
- Any other type is read by no view but the upload endpoints' (DRF answers 415 unread).

The upload endpoints (`datasets.uploads`, the chunks of a resumable upload, the console's
config upload) set their own handlers or read their own stream, and keep their own limits.
A refusal is a 413: `{"detail", "limit_bytes"}` on API paths, a page for people.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from llmplatform.api import is_api_path

# Set on a request whose body BoundedMemoryUploadHandler refused: the refusal is raised
# where Django reads the body (inside CSRF's check, or a view), and answered here.
REFUSED_FLAG = "llmplatform_body_refused"


def body_limit() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_detail() -> str:
    return f"The request body is larger than the limit of {body_limit()} bytes."


def body_too_large(request: HttpRequest) -> HttpResponse:
    limit = body_limit()
    if is_api_path(request.path):
        return JsonResponse({"detail": too_large_detail(), "limit_bytes": limit}, status=413)
    return render(request, "body_too_large.html", {"limit_bytes": limit}, status=413)


def read_into_memory(request: HttpRequest) -> bool:
    """JSON and form bodies are parsed whole in memory."""
    media_type = request.content_type or ""
    return media_type in {"application/json", "application/x-www-form-urlencoded"} or media_type.endswith("+json")


def content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class BoundedMemoryUploadHandler(MemoryFileUploadHandler):
    """Django's in-memory upload handler for bodies of at most MAX_JSON_BODY_BYTES; a bigger one is refused unread."""

    def handle_raw_input(
        self,
        input_data: IO[bytes],
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        # On WSGI the stream ends at Content-Length, so the declared length is all that can be read.
        if content_length > body_limit():
            if self.request is not None:
                setattr(self.request, REFUSED_FLAG, True)
            raise RequestDataTooBig(too_large_detail())
        self.activated = True


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if read_into_memory(request) and content_length(request) > body_limit():
            return body_too_large(request)
        response = self.get_response(request)
        if getattr(request, REFUSED_FLAG, False):
            return body_too_large(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Django's own refusal of form fields over the limit, inside an upload endpoint's multipart body.
        if isinstance(exception, RequestDataTooBig):
            return body_too_large(request)
        return None
