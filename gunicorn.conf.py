"""How gunicorn serves the platform: read by `gunicorn llmplatform.wsgi` from the repository root
(scripts/start and bench/p4_reads_vs_mlflow.py), so the benchmark measures the server people run.

Threads let a worker stream a multi-GB upload or answer a slow client without
holding every other request behind it, and keep HTTP connections alive between
requests (the sync worker closes each one). Environment: WEB_WORKERS, WEB_THREADS.
"""

import os

from llmplatform.settings import DATA_DIR

workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
# Uploads of big files and cancels that wait out a trainer's grace period take minutes.
timeout = 300
# gunicornc's control socket (reload, resize, stop) in the platform's own folder, owner-only:
# gunicorn's default, one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn), is shared by every
# instance that user runs on the host, so one would take over, or remove, another's.
control_socket = str(DATA_DIR / "gunicorn.ctl")
control_socket_mode = 0o600

# Request metrics (monitoring.requests) from every worker: prometheus_client keeps each
# worker's counts in files here, emptied when gunicorn starts, and /metrics adds them up.
# Set before any worker imports prometheus_client, which reads it at import.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(DATA_DIR / "prometheus"))


def on_starting(server: object) -> None:
    import shutil
    from pathlib import Path

    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]  # gunicorn's Worker
