"""Ask a separate platform process (its own settings, from its environment) what it sees."""

from __future__ import annotations

import json
import subprocess

from llmplatform.testing import manage_py

HEALTH_PROBE = """
import json
from django.test import Client
response = Client(HTTP_HOST="127.0.0.1").get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`code` run by `manage.py shell` (settings loaded from `env`)."""
    return subprocess.run(manage_py("shell", "-c", code), env=env, capture_output=True, text=True, timeout=60)


def last_json_line(code: str, env: dict[str, str]):
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def health_report(env: dict[str, str]) -> tuple[int, dict]:
    answer = last_json_line(HEALTH_PROBE, env)
    return answer["status"], answer["body"]
