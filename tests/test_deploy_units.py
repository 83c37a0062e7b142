"""deploy/systemd: the units stop what they run the way it needs, and leave trainers and model servers alone."""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from llmplatform.testing import manage_py, running, subprocess_env, wait_for

UNITS = Path(settings.BASE_DIR) / "deploy" / "systemd"


def service(name: str) -> configparser.SectionProxy:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    unit.read(UNITS / name)
    return unit["Service"]


def stop_as_systemd_would(process: subprocess.Popen, kill_mode: str, kill_signal: str) -> None:
    """KillMode=control-group (systemd's default) signals every process of the unit; mixed and process the main one."""
    number = signal.Signals[kill_signal]
    if kill_mode in ("mixed", "process"):
        process.send_signal(number)
    else:
        os.killpg(process.pid, number)


def test_every_unit_runs_the_platform_with_its_environment_file():
    for path in sorted(UNITS.glob("*.service")):
        unit = service(path.name)
        assert unit["EnvironmentFile"] == "/etc/llmplatform/llmplatform.env", path.name
        assert unit["ExecStart"].startswith("/opt/llmplatform/.venv/bin/"), path.name
        assert unit["User"] == "llmp", path.name


@pytest.mark.parametrize("name", ["llmplatform-qcluster.service", "llmplatform-supervise.service"])
def test_the_supervisors_units_leave_trainers_and_model_servers_running(name):
    # mixed would SIGKILL whatever is left in the unit's control group once the main process exits.
    assert service(name)["KillMode"] == "process"


@pytest.mark.slow
def test_qcluster_stops_cleanly_the_way_its_unit_stops_it(transactional_db, tmp_path):
    unit = service("llmplatform-qcluster.service")
    log = tmp_path / "qcluster.log"
    with running(manage_py("qcluster"), env=subprocess_env(Q_WORKERS="2"), log=log) as process:
        wait_for(lambda: "running" in log.read_text(), timeout=60, what="qcluster to start")
        stop_as_systemd_would(process, unit["KillMode"], unit["KillSignal"])
        try:
            process.wait(timeout=float(unit["TimeoutStopSec"]) / 3)
        except subprocess.TimeoutExpired:
            pytest.fail(f"qcluster did not stop: {log.read_text()[-2000:]}")
        assert process.returncode == 0, log.read_text()[-2000:]
        assert "has stopped" in log.read_text()


@pytest.mark.slow
def test_the_supervise_unit_stops_its_loops_cleanly(transactional_db, tmp_path):
    unit = service("llmplatform-supervise.service")
    log = tmp_path / "supervise.log"
    argv = [sys.executable, *manage_py("supervise")[1:]]
    with running(argv, env=subprocess_env(), log=log) as process:
        wait_for(lambda: log.stat().st_size > 0 or process.poll() is not None, timeout=60, what="supervise to start")
        stop_as_systemd_would(process, unit["KillMode"], unit["KillSignal"])
        process.wait(timeout=float(unit["TimeoutStopSec"]))
        assert process.returncode == 0, log.read_text()[-2000:]
