"""`/healthz` and `/_internal/health`: database, task worker heartbeat, disk space."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means the database is unusable
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def check_worker() -> str | None:
    """A django-q2 cluster saves its status every half second with a 3-second expiry;
    one of them must be there and fresh."""
    from django_q.status import Stat

    try:
        clusters = Stat.get_all()
    except Exception as exc:  # the cache (file or Redis) is unusable
        return f"cannot read worker heartbeats: {exc.__class__.__name__}"
    if not clusters:
        return "no django-q2 cluster is running (start one with `manage.py qcluster`)"
    newest = max(cluster.timestamp for cluster in clusters)
    age = (timezone.now() - newest).total_seconds()
    if age > settings.Q_HEARTBEAT_MAX_AGE_S:
        return f"the newest django-q2 cluster heartbeat is {age:.0f} s old"
    return None


def check_disk() -> str | None:
    free = shutil.disk_usage(settings.DATA_DIR).free
    if free < settings.HEALTH_MIN_FREE_BYTES:
        return f"only {free // (1024 * 1024)} MiB free in DATA_DIR"
    return None


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": check_database,
    "worker": check_worker,
    "disk": check_disk,
}


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["health"],
        summary="Health probe: database, task worker heartbeat, disk space (no token needed)",
        responses={
            (200, "application/json"): inline_serializer(
                "HealthReport",
                {"status": serializers.ChoiceField(["ok", "degraded"]), "checks": serializers.DictField()},
            ),
            (503, "application/json"): inline_serializer(
                "HealthReportDegraded",
                {"status": serializers.ChoiceField(["degraded"]), "checks": serializers.DictField()},
            ),
        },
    )
    def get(self, request: Request) -> Response:
        checks = {}
        for name, check in CHECKS.items():
            problem = check()
            checks[name] = {"ok": problem is None, **({"detail": problem} if problem else {})}
        healthy = all(result["ok"] for result in checks.values())
        return Response({"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503)
