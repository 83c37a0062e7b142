"""gunicorn.conf.py: each instance's control socket (gunicornc) is in its own DATA_DIR, for its user only."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from django.conf import settings

from llmplatform.testing import running, subprocess_env, wait_for


def gunicorn() -> list[str]:
    """gunicorn as scripts/start runs it, with the repository's gunicorn.conf.py, on a port of its own."""
    root = Path(settings.BASE_DIR)
    config = ["--chdir", str(root), "--config", str(root / "gunicorn.conf.py")]
    return [sys.executable, "-m", "gunicorn", *config, "llmplatform.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"]


def test_it_gives_every_instance_its_own_control_socket(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    sockets = [tmp_path / name / "gunicorn.ctl" for name in ("one", "two")]
    envs = [subprocess_env(DATA_DIR=str(socket.parent), HOME=str(home), XDG_RUNTIME_DIR="") for socket in sockets]

    with (
        running(gunicorn(), env=envs[0], log=tmp_path / "one.log"),
        running(gunicorn(), env=envs[1], log=tmp_path / "two.log"),
    ):
        wait_for(lambda: all(socket.is_socket() for socket in sockets), what="both control sockets")
        modes = [stat.S_IMODE(socket.stat().st_mode) for socket in sockets]

    assert modes == [0o600, 0o600]
    assert not (home / ".gunicorn").exists()
