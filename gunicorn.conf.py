"""How gunicorn serves the platform: read by `gunicorn llmplatform.wsgi` from the repository root
(scripts/start and bench/p4_reads_vs_mlflow.py), so the benchmark measures the server people run.

Threads let a worker stream a multi-GB upload or answer a slow client without
holding every other request behind it, and keep HTTP connections alive between
requests (the sync worker closes each one). Environment: WEB_WORKERS, WEB_THREADS.
"""

import os

workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
# Uploads of big files and cancels that wait out a trainer's grace period take minutes.
timeout = 300
