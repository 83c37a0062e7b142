"""API conventions in one place.

Every error on an API path is a JSON body with a human `detail` sentence (plus
structured fields where useful), never an HTML page. `exception_handler` turns the
domain's refusals (`llmplatform.errors`) into `{"detail": ..., **fields}` with the
status `STATUS_OF_DOMAIN_ERROR` gives their class. DRF's own exceptions are left for
what is about HTTP itself (serializer validation, which adds `errors`; authentication;
a body the parsers refuse, `PayloadTooLarge`, or one sent without a length,
`LengthRequired`) and are answered in the same shape. Everything outside DRF's views
(unknown URLs, oversized bodies, Django's own error pages) goes through
`llmplatform.middleware.JsonApiMiddleware`.

Lists are paged one way: `limit` (1-500, default 100) and `offset` (default 0) query
parameters, the body as the contract shows it (a plain array, or `{"items": [...]}`),
and the paging facts in headers, `X-Total-Count` (items over all pages) and an RFC 8288
`Link` (rel "next", "prev", "first"). A value out of range is a 400 naming the
parameter, never clamped. `HeaderLimitOffsetPagination` does it (DRF's default
paginator; `paged_response` for views outside DRF's generic ones) and `PAGED`
describes it in the OpenAPI schema. The one exception is the contract's own: a run's
log is `{"page", "page_size", "total", "items"}` (`PageQuery`), and a model server's
log reads the same way.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from drf_spectacular.plumbing import build_parameter_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
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
    errors.ConflictingState: status.HTTP_409_CONFLICT,
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


# --- Paging lists -------------------------------------------------------------------

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
# Deeper than any real list, and small enough that offset + limit stays a 64-bit
# integer in SQLite and PostgreSQL alike (past it the database refuses: a 500, not a 400).
MAX_OFFSET = 2**62
# The last page a `page`/`page_size` query may ask for: its first item stays within MAX_OFFSET.
MAX_PAGE = MAX_OFFSET // MAX_LIMIT + 1


def bounded_query_int(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    """Query parameter `name` as an integer from `low` to `high`, `default` when absent; else a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: f"must be an integer between {low} and {high}"}) from None
    if not low <= value <= high:
        raise exceptions.ValidationError({name: f"must be between {low} and {high}, got {value}"})
    return value


# The query parameters of a page: name -> (JSON schema, description).
PAGING_QUERY: dict[str, tuple[dict[str, Any], str]] = {
    "limit": (
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        f"At most this many items (1–{MAX_LIMIT}, default {DEFAULT_LIMIT}).",
    ),
    "offset": (
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        "Skip this many items (default 0).",
    ),
}
PAGING_PARAMETERS = [
    OpenApiParameter(name, schema, description=description) for name, (schema, description) in PAGING_QUERY.items()
]
PAGING_HEADERS = [
    OpenApiParameter(
        "X-Total-Count",
        OpenApiTypes.INT,
        location=OpenApiParameter.HEADER,
        response=[status.HTTP_200_OK],
        description="How many items match, over all pages.",
    ),
    OpenApiParameter(
        "Link",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=[status.HTTP_200_OK],
        description='RFC 8288 links: rel="next", "prev", "first".',
    ),
]
# What a paged list operation lists among its `extend_schema(parameters=...)`.
PAGED = [*PAGING_PARAMETERS, *PAGING_HEADERS]


class HeaderLimitOffsetPagination(BasePagination):
    """The platform's paging: `limit`/`offset` in, the body as it was, `X-Total-Count` and `Link` out."""

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list:
        self.request = request
        self.limit = bounded_query_int(request, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        self.offset = bounded_query_int(request, "offset", default=0, low=0, high=MAX_OFFSET)
        self.total = queryset.count()
        return list(queryset[self.offset : self.offset + self.limit])

    def _links(self) -> str:
        url = self.request.build_absolute_uri()
        links = []
        if self.offset + self.limit < self.total:
            links.append((replace_query_param(url, "offset", self.offset + self.limit), "next"))
        if self.offset > 0:
            previous = max(self.offset - self.limit, 0)
            links.append(
                (
                    replace_query_param(url, "offset", previous) if previous else remove_query_param(url, "offset"),
                    "prev",
                )
            )
        links.append((remove_query_param(url, "offset"), "first"))
        return ", ".join(f'<{target}>; rel="{relation}"' for target, relation in links)

    def get_paginated_response(self, data: Any) -> Response:
        """`data` as the body, whatever its shape (a plain array, or `{"items": [...]}`)."""
        return Response(data, headers={"X-Total-Count": str(self.total), "Link": self._links()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return schema

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [
            build_parameter_type(name=name, schema=schema, location=OpenApiParameter.QUERY, description=description)
            for name, (schema, description) in PAGING_QUERY.items()
        ]


def paged_response(request: Request, queryset: QuerySet, serializer: type[serializers.BaseSerializer]) -> Response:
    """One page of `queryset` as a plain array with the paging headers, for views outside DRF's generic ones.

    The serializer gets the request in its context, as in DRF's generic views (some fields depend on who asks).
    """
    paginator = HeaderLimitOffsetPagination()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(serializer(page, many=True, context={"request": request}).data)


class PageQuery(serializers.Serializer):
    """`page` (from 1) and `page_size` (1-500, default 50): how the contract pages a run's log."""

    page = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=50)


# --- Looking objects up --------------------------------------------------------------

PROJECT_REFERENCE = OpenApiParameter(
    "project_reference", OpenApiTypes.STR, OpenApiParameter.PATH, description="The project's UUID or its unique name."
)

ModelT = TypeVar("ModelT", bound=Model)


def get_or_404(queryset: QuerySet[ModelT], detail: str, **lookup: Any) -> ModelT:
    """The object of `queryset` that `lookup` names, else 404 `{"detail": detail}`.

    A malformed key (`pk="abc"` for a UUID) names no object either: 404 too, as for one
    that does not exist or that this person may not see.
    """
    try:
        return queryset.get(**lookup)
    except (ObjectDoesNotExist, DjangoValidationError, ValueError):
        raise exceptions.NotFound(detail) from None
