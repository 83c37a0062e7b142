"""Health probes of a model server, always to 127.0.0.1 on the deployment's own port.

A server is ready when its health path answers 200 **and** `/v1/models` lists the
name it should serve: vLLM answers /health before every adapter is loaded, and a
wrong `--served-model-name` would otherwise look healthy. The health path is a plain
absolute path checked when the deployment is created, never a URL, so a probe can
only ever reach the loopback port the platform allocated.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from dataclasses import dataclass

from llmplatform.sentences import gettext_noop

HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")
MAX_BODY_BYTES = 1024 * 1024


def check_health_path(path: str) -> str | None:
    """Why `path` is not a plain absolute path (None when it is)."""
    if not HEALTH_PATH.match(path) or path.startswith("//"):
        return gettext_noop(
            "health_path {path!r} must be a plain absolute path such as /health: a leading "
            "'/', then only letters, digits and . _ ~ / - (no scheme, host, query or '//')."
        ).format(path=path)
    if ".." in path.split("/"):
        return gettext_noop("health_path {path!r} may not contain '..' segments.").format(path=path)
    if len(path) > 200:
        return gettext_noop("health_path is longer than 200 characters.")
    return None


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str
    seconds: float = 0.0  # how long the probe took, answered or not


def _get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        return response.status, response.read(MAX_BODY_BYTES)
    finally:
        connection.close()


def _lists_model(body: bytes, served_model_name: str) -> bool:
    try:
        models = json.loads(body)["data"]
        return any(isinstance(model, dict) and model.get("id") == served_model_name for model in models)
    except (ValueError, KeyError, TypeError):
        return False


def probe(*, port: int, health_path: str, served_model_name: str, timeout: float) -> ProbeResult:
    started = time.perf_counter()
    result = _probe(port=port, health_path=health_path, served_model_name=served_model_name, timeout=timeout)
    return ProbeResult(ok=result.ok, detail=result.detail, seconds=time.perf_counter() - started)


def _probe(*, port: int, health_path: str, served_model_name: str, timeout: float) -> ProbeResult:
    try:
        status, _ = _get(port, health_path, timeout)
        if status != 200:
            return ProbeResult(
                ok=False,
                detail=gettext_noop("{health_path} answered {status}.").format(health_path=health_path, status=status),
            )
        status, body = _get(port, "/v1/models", timeout)
    except ConnectionRefusedError:
        return ProbeResult(
            ok=False, detail=gettext_noop("Port {port} refuses connections (still loading?).").format(port=port)
        )
    except (OSError, http.client.HTTPException) as exc:
        return ProbeResult(
            ok=False, detail=gettext_noop("Probe of port {port} failed: {exc!r}.").format(port=port, exc=exc)
        )
    if status != 200:
        return ProbeResult(ok=False, detail=gettext_noop("/v1/models answered {status}.").format(status=status))
    if not _lists_model(body, served_model_name):
        return ProbeResult(
            ok=False,
            detail=gettext_noop("/v1/models does not list {served_model_name!r}.").format(
                served_model_name=served_model_name
            ),
        )
    return ProbeResult(ok=True, detail="")
