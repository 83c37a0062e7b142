"""Plain-array lists sliced by `limit`/`offset`, with `X-Total-Count` and an RFC 8288 `Link`.

The contract keeps list bodies plain JSON arrays (scripts index them directly), so
the paging facts travel in headers instead of an envelope.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


def _bounded_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: f"must be an integer between {low} and {high}"}) from None
    if not low <= value <= high:
        raise ValidationError({name: f"must be between {low} and {high}, got {value}"})
    return value


MAX_OFFSET = 2**62


class HeaderLimitOffsetPagination(BasePagination):
    default_limit = 100
    max_limit = 500

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list:
        self.request = request
        self.limit = _bounded_int(request, "limit", self.default_limit, 1, self.max_limit)
        self.offset = _bounded_int(request, "offset", 0, 0, MAX_OFFSET)
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

    def get_paginated_response(self, data: list) -> Response:
        return Response(data, headers={"X-Total-Count": str(self.total), "Link": self._links()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return schema

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"At most this many items (1–{self.max_limit}, default {self.default_limit}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit},
            },
            {
                "name": "offset",
                "in": "query",
                "required": False,
                "description": "Skip this many items (default 0).",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            },
        ]


PAGING_HEADERS = [
    OpenApiParameter(
        "X-Total-Count",
        OpenApiTypes.INT,
        location=OpenApiParameter.HEADER,
        response=True,
        description="How many items match, over all pages.",
    ),
    OpenApiParameter(
        "Link",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=True,
        description='RFC 8288 links: rel="next", "prev", "first".',
    ),
]
