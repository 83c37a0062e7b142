"""Helpers for tests that run the platform's own processes (workers, supervisors),
and for tests that post the admin's forms.

Such a subprocess must share the test's database (the SQLite test database is a
file for this reason), its cache (django-q2 heartbeats live there) and its
directories; `subprocess_env` builds that environment from the live settings.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

from django.apps import AppConfig, apps
from django.conf import settings
from django.db import connection
from django.db.models import Model

if TYPE_CHECKING:
    # The test client's response, which carries `context`; only django-stubs names it.
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | Literal[False] | None],
    *,
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str = "condition",
    between: Callable[[], object] | None = None,
) -> T:
    """Poll `condition` until it returns something truthy (returned), or fail after `timeout` seconds.

    `between` runs before each look, for a test that drives what it waits for (a supervisor's tick).
    """
    deadline = time.monotonic() + timeout
    while True:
        if between is not None:
            between()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@contextlib.contextmanager
def counting_round_trips() -> Iterator[list[list[str]]]:
    """The round trips to the database of the statements executed inside, each as the SQL it carried:
    one a statement, except statements sent in one psycopg pipeline (llmplatform.prepared), which share one."""
    trips: list[list[str]] = []
    last_pipeline: list[object] = [None]

    def note(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        pipeline = getattr(context["connection"].connection, "_pipeline", None)  # psycopg 3's, while one is open
        if pipeline is None or pipeline is not last_pipeline[0]:
            trips.append([])
        trips[-1].append(sql)
        last_pipeline[0] = pipeline
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        yield trips


def free_port() -> int:
    """A loopback port nobody listens on right now (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """A DATABASE_URL naming the database this process is connected to (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def subprocess_env(**overrides: str) -> dict[str, str]:
    """Environment for a `manage.py` subprocess that sees what this test sees."""
    env = {key: value for key, value in os.environ.items() if key not in {"LLMP_TESTING", "REDIS_URL"}}
    env.update(
        DEBUG="1",
        DATABASE_URL=database_url(),
        DATA_DIR=str(settings.DATA_DIR),
        HOST_TRAINING_DIR=str(settings.HOST_TRAINING_DIR),
        DOCKER_TRAINING_DIR=str(settings.DOCKER_TRAINING_DIR),
        RUNS_DIR=str(settings.RUNS_DIR),
        MODELS_DIR=str(settings.MODELS_DIR),
        DEPLOY_LOG_DIR=str(settings.DEPLOY_LOG_DIR),
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def manage_py(*args: str) -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args]


def stop_process_group(process: subprocess.Popen, *, timeout: float = 20.0) -> int:
    """Stop a platform process the way an init system would; its exit status.

    SIGTERM goes to the leader only (qcluster and supervisors stop their own children
    in order; signalling them all at once makes django-q2 hang), then SIGKILL to
    whatever is left of its process group.
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.returncode


@contextlib.contextmanager
def running(argv: list[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run `argv` in its own session for the duration of the block, output to `log`."""
    with log.open("ab") as output:
        process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        stop_process_group(process)


def platform_app_configs() -> list[AppConfig]:
    """The apps of this repository (top-level folders; not Django's or libraries', even when a
    virtual environment lies inside the repository)."""
    base = Path(settings.BASE_DIR)
    return [config for config in apps.get_app_configs() if Path(config.path).parent == base]


def platform_models() -> list[type[Model]]:
    return [model for config in platform_app_configs() for model in config.get_models()]


def admin_form_data(page: TestResponse) -> dict[str, Any]:
    """What an admin add or change page (fetched with the test client) posts back as it
    stands: its form's fields and those of its inlines, management forms included."""
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, Any] = {}
    for form in forms:
        for field in form:
            value = field.value()
            if value is not None and value is not False:  # what a browser leaves out of the post
                data[field.html_name] = value
    return data


def load_script(name: str) -> ModuleType:
    """`scripts/<name>.py` as a module, importing its siblings by name as it does when run."""
    scripts = str(Path(settings.BASE_DIR) / "scripts")
    if scripts not in sys.path:
        sys.path.append(scripts)
    spec = importlib.util.spec_from_file_location(name, Path(scripts) / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining a class
    spec.loader.exec_module(module)
    return module


def trainer_wheels() -> dict[str, str]:
    """The trainers' wheels projects/trainer_arguments.json was made of, from the folder TRAINER_WHEELS names
    (scripts/test downloads them there): `llamafactory`, `llamafactory_transformers` (the transformers it runs
    with) and `transformers` (requirements-trainer.txt's). Skips the test that asks when they are not there."""
    import pytest

    folder = os.environ.get("TRAINER_WHEELS", "")
    if not folder:
        pytest.skip("TRAINER_WHEELS is unset: scripts/test downloads LLaMA-Factory's and transformers' wheels there")
    schema = Path(settings.BASE_DIR) / "projects" / "trainer_arguments.json"
    trainers = json.loads(schema.read_text(encoding="utf-8"))["trainers"]
    llamafactory, hf_trainer = trainers["llamafactory-0.9.x"]["versions"], trainers["hf-trainer"]["versions"]
    wheels = {
        "llamafactory": f"llamafactory-{llamafactory['llamafactory']}-py3-none-any.whl",
        "llamafactory_transformers": f"transformers-{llamafactory['transformers']}-py3-none-any.whl",
        "transformers": f"transformers-{hf_trainer['transformers']}-py3-none-any.whl",
    }
    missing = [name for name in wheels.values() if not (Path(folder) / name).is_file()]
    if missing:
        pytest.skip(f"{folder} lacks {', '.join(missing)}")
    return {role: str(Path(folder) / name) for role, name in wheels.items()}
