"""`/healthz` and `/_internal/health`: a database round trip, a live worker, free disk."""

from __future__ import annotations

import pytest

from llmplatform.testing import stop_process_group, subprocess_env, wait_for
from tests.probes import health_report

HEALTH_PATHS = ["/healthz", "/_internal/health"]


def health(client, path: str = "/healthz") -> tuple[int, dict]:
    response = client.get(path)
    return response.status_code, response.json()


def health_once(client, path: str, status: int, *, timeout: float, what: str) -> dict:
    """The health report, as soon as it answers with `status`."""
    return wait_for(lambda: (answer := health(client, path))[0] == status and answer[1], timeout=timeout, what=what)


@pytest.mark.parametrize("path", HEALTH_PATHS)
def test_it_reports_ok_while_a_worker_runs_and_degraded_once_it_stops(client, qcluster, path):
    body = health_once(client, path, 200, timeout=60, what="the qcluster's first heartbeat")
    assert body == {"status": "ok", "checks": {"database": {"ok": True}, "worker": {"ok": True}, "disk": {"ok": True}}}

    assert stop_process_group(qcluster) is not None
    body = health_once(client, path, 503, timeout=30, what="the heartbeat to expire")
    assert body["status"] == "degraded"
    assert body["checks"]["worker"] == {
        "ok": False,
        "detail": "no django-q2 cluster is running (start one with `manage.py qcluster`)",
    }
    assert body["checks"]["database"] == {"ok": True}


def test_it_names_the_worker_when_none_ever_ran(client, db):
    status, body = health(client)
    assert status == 503
    assert body["status"] == "degraded"
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["disk"] == {"ok": True}


def test_it_names_the_disk_when_data_dir_is_short_of_space(client, db, settings):
    settings.HEALTH_MIN_FREE_BYTES = 1 << 62
    status, body = health(client)
    assert status == 503
    assert body["checks"]["disk"]["ok"] is False
    assert body["checks"]["disk"]["detail"].endswith("MiB free in DATA_DIR")


def test_it_names_the_database_when_it_cannot_be_reached(tmp_path, db):
    """A real platform process whose DATABASE_URL names a database file it cannot open."""
    status, body = health_report(subprocess_env(DATABASE_URL=f"sqlite:///{tmp_path}/missing-dir/db.sqlite3"))
    assert status == 503
    assert body["checks"]["database"] == {"ok": False, "detail": "database unreachable: OperationalError"}
