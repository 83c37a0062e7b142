"""/openapi.json (a module of its own: drf-spectacular's views import DRF's APIView, which imports
the schema class of llmplatform.schema)."""

from __future__ import annotations

import threading
from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework.request import Request
from rest_framework.response import Response

SCHEMA_LOCK = threading.Lock()


class SchemaView(SpectacularJSONAPIView):
    """/openapi.json, made by one thread of a process at a time. drf-spectacular loads its extensions
    the first time a schema is made, into class attributes every thread shares; two threads of one
    gunicorn worker making that first schema together got a 500 (one read a class the other had just
    found missing and set to None)."""

    @extend_schema(exclude=True)  # as drf-spectacular's own view: the document does not describe itself
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with SCHEMA_LOCK:
            return super().get(request, *args, **kwargs)
