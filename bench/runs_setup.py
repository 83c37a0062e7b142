"""Django set up for the issue-3 (runs) benchmarks: a throwaway database, migrated.

`--database sqlite` (default): a SQLite file in a temporary folder.
`--database postgres://…`: that PostgreSQL database, created if missing.
Import this module before anything from Django.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def machine() -> str:
    """Where a figure comes from: CPU model, cores, load average now, and the commit measured."""
    cpu_lines = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpu_lines if "model name" in line), "unknown CPU")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return f"machine: {model}, {os.cpu_count()} cores, load average {load}; commit {commit.stdout.strip() or '?'}"


def parser(description: str) -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--database", default="sqlite", help="'sqlite' or a postgres:// URL")
    return arguments


def setup(database: str) -> Path:
    """Point Django at the benchmark database and a scratch DATA_DIR; returns DATA_DIR."""
    scratch = Path(tempfile.mkdtemp(prefix="llmp-bench-"))
    os.environ["DATA_DIR"] = str(scratch)
    os.environ["HOST_TRAINING_DIR"] = str(scratch / "training")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    os.environ["DEBUG"] = "0"  # DEBUG would record every query in memory
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["DJANGO_SETTINGS_MODULE"] = "llmplatform.settings"
    if database == "sqlite":
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = database
        _create_postgres_database(database)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return scratch


def _create_postgres_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def make_project_and_run(name: str = "bench"):
    """A project and a running run with its own folders under RUNS_DIR."""
    from django.conf import settings
    from django.contrib.auth.models import User

    from projects.models import Project
    from runs.models import Run, RunStatus

    user, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True})
    project, _ = Project.objects.get_or_create(name=name, defaults={"created_by": user, "owner": "bench"})
    run = Run.objects.create(project=project, status=RunStatus.RUNNING, progress=0.05)
    run_dir = Path(settings.RUNS_DIR) / str(run.pk)
    (run_dir / "output").mkdir(parents=True)
    Run.objects.filter(pk=run.pk).update(run_dir=str(run_dir), output_dir=str(run_dir / "output"))
    run.refresh_from_db()
    return user, project, run
