"""API conventions in one place.

Every error on an API path is a JSON body with a human `detail` sentence (plus
structured fields where useful), never an HTML page. `exception_handler` turns the
domain's refusals (`llmplatform.errors`) into `{"detail": ..., **fields}` with the
status `STATUS_OF_DOMAIN_ERROR` gives their class. DRF's own exceptions are left for
what is about HTTP itself (serializer validation, which adds `errors`; authentication;
a body the parsers refuse, `PayloadTooLarge`, or one sent without a length,
`LengthRequired`) and are answered in the same shape. Everything outside DRF's views
(unknown URLs, oversized bodies, Django's own error pages) goes through
`llmplatform.middleware.JsonApiMiddleware`. Paged lists share `PageQuery` and `page_of`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from llmplatform import errors

# Paths served as HTML for people (and `/`, which redirects to the console);
# everything else speaks JSON.
HTML_PATH_PREFIXES = ("/console/", "/admin/", "/docs", "/static/", "/i18n/")


def is_api_path(path: str) -> bool:
    return path != "/" and not path.startswith(HTML_PATH_PREFIXES)


class PayloadTooLarge(exceptions.APIException):
    """413 from a parser: the body is bigger than the view takes (DRF's parsers refuse in DRF's exceptions)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class LengthRequired(exceptions.APIException):
    """411: a body the view must know the size of before reading it came without a Content-Length."""

    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = "The request needs a Content-Length."
    default_code = "length_required"


def flatten_errors(errors: Any, prefix: str = "") -> list[str]:
    """Turn DRF's nested validation errors into `field: reason` sentences."""
    if isinstance(errors, dict):
        sentences: list[str] = []
        for key, value in errors.items():
            name = key if key != "non_field_errors" else ""
            sentences += flatten_errors(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return sentences
    if isinstance(errors, list):
        sentences = []
        for index, value in enumerate(errors):
            nested = isinstance(value, (dict, list))
            sentences += flatten_errors(value, f"{prefix}[{index}]" if nested else prefix)
        return sentences
    return [f"{prefix}: {errors}" if prefix else str(errors)]


# The one translation of the domain's refusals into HTTP (see llmplatform.errors).
STATUS_OF_DOMAIN_ERROR: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: status.HTTP_400_BAD_REQUEST,
    errors.NotPermitted: status.HTTP_403_FORBIDDEN,
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.StateConflict: status.HTTP_409_CONFLICT,
    errors.TooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    errors.UnsupportedMedia: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    errors.OutOfSpace: status.HTTP_507_INSUFFICIENT_STORAGE,
}


def status_of(error: errors.DomainError) -> int:
    """The HTTP status of a domain refusal: that of the nearest mapped class it derives from."""
    for cls in type(error).__mro__:
        if cls in STATUS_OF_DOMAIN_ERROR:
            return STATUS_OF_DOMAIN_ERROR[cls]
    return status.HTTP_400_BAD_REQUEST


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, errors.DomainError):
        set_rollback()  # as DRF does for its own exceptions: an atomic request writes nothing
        return Response({"detail": exc.detail, **exc.fields}, status=status_of(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        sentences = flatten_errors(exc.detail)
        response.data = {"detail": "; ".join(sentences) or "Invalid input.", "errors": exc.detail}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {**response.data, "detail": str(response.data["detail"])}
    else:
        response.data = {"detail": "; ".join(flatten_errors(response.data))}
    return response


class PageQuery(serializers.Serializer):
    """`page` (from 1) and `page_size` (1-500) query parameters; out of range is a 400, not clamped."""

    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=500, default=50)


def page_of(queryset: QuerySet, *, page: int, page_size: int, serializer: type[serializers.Serializer]) -> dict:
    """`{"page", "page_size", "total", "items"}` for one page of `queryset`."""
    start = (page - 1) * page_size
    items = queryset[start : start + page_size]
    return {
        "page": page,
        "page_size": page_size,
        "total": queryset.count(),
        "items": serializer(items, many=True).data,
    }


def page_serializer(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The OpenAPI shape of `page_of`'s result; `name` must be unique across the schema."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "page": serializers.IntegerField(),
            "page_size": serializers.IntegerField(),
            "total": serializers.IntegerField(),
            "items": item(many=True),
        },
    )
