"""The supervisor: leases, re-attaching after a restart, ends seen late, `manage.py supervise`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from llmplatform.processes import read_exit_code
from llmplatform.testing import wait_for
from runs import services
from runs.models import Run, RunStatus
from runs.supervisor import RunSupervisor

BAR = re.compile(r"^\s*\d+%\|")  # tqdm redraws are collapsed into one row per bar
# A line printed on stdout right after a bar drawn on stderr (no terminator between them).
AFTER_BAR = re.compile(r"^\s*\d+%\|[^|]*\| \d+/\d+ \[[^\]]*\](.+)$")


def running_run(project, owner, **hyperparameters) -> Run:
    run = services.create_run(project=project, actor=owner, hyperparameters=hyperparameters)
    from runs.scheduling import dispatch_queued_runs

    assert [started.pk for started in dispatch_queued_runs()] == [run.pk]
    run.refresh_from_db()
    return run


def test_it_lets_only_one_supervisor_hold_a_run(project, owner, fake_trainer):
    run = running_run(project, owner, max_steps=100000, step_seconds=0.05)
    first, second = RunSupervisor(), RunSupervisor()

    assert [held.pk for held in first.hold_runs()] == [run.pk]
    assert second.hold_runs() == []
    assert first.hold_runs() != []  # renewing its own lease

    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))  # first hangs
    assert [held.pk for held in second.hold_runs()] == [run.pk]
    assert first.hold_runs() == []


def test_it_takes_over_at_once_from_a_dead_holder_on_this_host(project, owner, fake_trainer):
    run = running_run(project, owner, max_steps=100000, step_seconds=0.05)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_owner = f"{django_settings.HOSTNAME}/{int(dead.stdout)}/12345/supervisor-gone"
    Run.objects.filter(pk=run.pk).update(lease_owner=dead_owner, lease_expires_at=timezone.now() + timedelta(hours=1))

    assert [held.pk for held in RunSupervisor().hold_runs()] == [run.pk]


def test_it_leaves_a_local_run_of_another_host_alone(project, owner, fake_trainer):
    run = running_run(project, owner, max_steps=100000, step_seconds=0.05)
    Run.objects.filter(pk=run.pk).update(host="another-host")

    assert RunSupervisor().hold_runs() == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("hyperparameters", "status", "exit_code"),
    [
        ({"max_steps": 6}, RunStatus.COMPLETED, 0),
        ({"max_steps": 6, "fail_at_step": 3, "exit_code": 3}, RunStatus.FAILED, 3),
    ],
)
def test_it_judges_a_trainer_that_ended_unwatched_by_its_exit_code(
    project, owner, fake_trainer, hyperparameters, status, exit_code
):
    run = running_run(project, owner, step_seconds=0.01, **hyperparameters)
    wait_for(lambda: read_exit_code(run.exit_code_path) is not None)

    RunSupervisor().tick()

    run.refresh_from_db()
    assert (run.status, run.exit_code) == (status, exit_code)
    assert run.progress == (1.0 if status == RunStatus.COMPLETED else run.progress)
    if status == RunStatus.FAILED:
        errors = list(run.log_lines.filter(level="ERROR").values_list("message", flat=True))
        assert any("Traceback" in message for message in errors)
        assert "exited with code 3" in errors[-1]
    assert run.lease_owner == ""


def current_database_url() -> str:
    """The URL of the database this test uses (SQLite's test database is a file)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def supervise_command(settings, tmp_path: Path, name: str) -> subprocess.Popen:
    """`manage.py supervise` as its own process on the same test database."""
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "SECRET_KEY": "test-only",
        "DATA_DIR": str(settings.DATA_DIR),
        "RUNS_DIR": str(settings.RUNS_DIR),
        "HOST_TRAINING_DIR": str(settings.HOST_TRAINING_DIR),
        "TRAINING_COMMAND": settings.TRAINING_COMMAND,
        "LLMP_HOSTNAME": settings.HOSTNAME,
        "SUPERVISOR_INTERVAL_SECONDS": "0.2",
    }
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 (the child keeps it)
    return subprocess.Popen(
        [sys.executable, "manage.py", "supervise"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def file_lines(path: Path) -> list[str]:
    """What a terminal would show, line by line: the text between \\r and \\n terminators."""
    lines = []
    for piece in re.split(r"[\r\n]", path.read_text(encoding="utf-8")):
        if match := AFTER_BAR.match(piece):
            piece = match.group(1)
        if piece.strip():
            lines.append(piece.strip())
    return lines


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_loses_and_repeats_no_line_when_supervisors_are_killed(
    owner_client, owner, project, fake_trainer, settings, tmp_path
):
    first = supervise_command(settings, tmp_path, "first")
    second = supervise_command(settings, tmp_path, "second")  # two at once: the lease keeps them apart
    try:
        wait_for(
            lambda: all("started" in (tmp_path / f"{name}.log").read_text() for name in ("first", "second")), timeout=60
        )
        response = owner_client.post(
            f"/projects/{project.name}/runs",
            {"hyperparameters": {"max_steps": 600, "step_seconds": 0.02, "logging_steps": 5, "save_steps": 100}},
            format="json",
        )
        run_id = response.json()["id"]
        url = f"/projects/{project.name}/runs/{run_id}"
        wait_for(lambda: owner_client.get(f"{url}/logs").json()["total"] > 15, timeout=30)
        first.kill()  # kill -9 mid-run
        first.wait()
        wait_for(lambda: f"/{second.pid}/" in Run.objects.get(pk=run_id).lease_owner, timeout=10)
        second.kill()
        second.wait()
        third = supervise_command(settings, tmp_path, "third")
        done = wait_for(lambda: (body := owner_client.get(url).json())["status"] == "completed" and body, timeout=60)
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=15) == 0
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
    assert done["progress"] == 1.0
    assert Run.objects.get(pk=run_id).lease_owner == ""  # a clean stop hands its leases back

    items: list[dict[str, Any]] = []
    page = 1
    while batch := owner_client.get(f"{url}/logs?page_size=100&page={page}").json()["items"]:
        items, page = items + batch, page + 1
    stored = [item["message"] for item in items if not BAR.match(item["message"])]
    written = [line for line in file_lines(Path(Run.objects.get(pk=run_id).log_path)) if not BAR.match(line)]
    assert stored == written
    assert [item["seq"] for item in items] == list(range(1, len(items) + 1))
