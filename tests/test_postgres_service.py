"""scripts/services/postgres.sh: the throwaway PostgreSQL cluster that .ci/run starts."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from llmplatform.testing import free_port

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "services" / "postgres.sh"


def service(action: str, *, port: int, directory: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PGPORT": str(port), "PGDIR": str(directory)}
    return subprocess.run([str(SCRIPT), action], env=env, capture_output=True, text=True, timeout=120)


def test_it_starts_a_throwaway_cluster_and_removes_it():
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    # Outside pytest's own temporary folders, which the postgres user may not enter.
    directory = Path("/tmp") / f"llmp-postgres-test-{os.getpid()}"
    port = free_port()
    started = service("start", port=port, directory=directory)
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip().splitlines()[-1].removeprefix("export TEST_DATABASE_URL=")
        assert url == f"postgres://postgres@127.0.0.1:{port}/llmplatform"
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=5) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        stopped = service("stop", port=port, directory=directory)
    assert stopped.returncode == 0, stopped.stderr
    assert not directory.exists()
