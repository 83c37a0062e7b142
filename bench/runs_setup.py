"""Django set up for the benchmarks of runs: a throwaway database, migrated.

`--database sqlite` (default): a SQLite file in a temporary folder.
`--database postgres://…`: that PostgreSQL database, created if missing (`fresh`: dropped first,
so that nothing a previous run left is measured).
Import this module before anything from Django.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from pathlib import Path

from machine import REPO

sys.path.insert(0, str(REPO))


def parser(description: str) -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--database", default="sqlite", help="'sqlite' or a postgres:// URL")
    return arguments


def setup(database: str, *, fresh: bool = False) -> Path:
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
        if fresh:
            recreate_postgres_database(database)
        else:
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


def recreate_postgres_database(url: str) -> None:
    """The PostgreSQL database `url` names, dropped if it exists (with its connections) and created empty."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(url.rsplit("/", 1)[1].split("?")[0])
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


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
