"""Settings come from the environment with safe defaults; unsafe combinations refuse to start."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from django.conf import settings as live_settings

from llmplatform.testing import manage_py
from tests.probes import last_json_line

SHOW_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"), "port": db.get("PORT"),
    "prepare_threshold": db["OPTIONS"].get("prepare_threshold", "unset"),
    "debug": settings.DEBUG, "q_cluster": settings.Q_CLUSTER, "cache": settings.CACHES["default"]["BACKEND"],
    "data_dir": str(settings.DATA_DIR), "host_training_dir": str(settings.HOST_TRAINING_DIR),
    "max_yaml_bytes": settings.MAX_YAML_BYTES,
}))
"""


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The environment of a fresh shell: none of the platform's variables set, except `values`."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return {**env, "DATA_DIR": str(tmp_path / "data"), **values}


def settings_seen(tmp_path: Path, **values: str) -> dict:
    return last_json_line(SHOW_SETTINGS, clean_env(tmp_path, DEBUG="1", **values))


def manage_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(manage_py("check"), env=env, capture_output=True, text=True, timeout=60)


def test_it_refuses_to_start_without_a_secret_key_unless_debug(tmp_path):
    refused = manage_check(clean_env(tmp_path))
    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr

    assert manage_check(clean_env(tmp_path, SECRET_KEY="x" * 50)).returncode == 0
    assert manage_check(clean_env(tmp_path, DEBUG="1")).returncode == 0


def test_it_names_a_malformed_number(tmp_path):
    refused = manage_check(clean_env(tmp_path, DEBUG="1", MAX_YAML_BYTES="lots"))
    assert refused.returncode != 0
    assert "MAX_YAML_BYTES must be an integer, got 'lots'" in refused.stderr


def test_it_refuses_a_dispatch_pass_that_may_start_no_run(tmp_path):
    refused = manage_check(clean_env(tmp_path, DEBUG="1", DISPATCH_STARTS_PER_PASS="0"))
    assert refused.returncode != 0
    assert "DISPATCH_STARTS_PER_PASS must be at least 1, got 0" in refused.stderr

    assert manage_check(clean_env(tmp_path, DEBUG="1", DISPATCH_STARTS_PER_PASS="1")).returncode == 0


def test_it_uses_a_sqlite_file_under_data_dir_by_default(tmp_path):
    seen = settings_seen(tmp_path)
    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["name"] == str(tmp_path / "data" / "llmplatform.sqlite3")
    assert seen["debug"] is True
    # The existing training servers' training directory.
    assert seen["host_training_dir"] == "/data1/qwen2.5-14bxxxx"
    assert seen["max_yaml_bytes"] == 256 * 1024


def test_it_uses_the_sqlite_file_database_url_names(tmp_path):
    seen = settings_seen(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/elsewhere.sqlite3")
    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["name"] == f"{tmp_path}/elsewhere.sqlite3"


def test_it_uses_postgresql_when_database_url_names_it(tmp_path):
    seen = settings_seen(tmp_path, DATABASE_URL="postgres://llmp:secret@db.example.test:5433/llmp")
    assert (seen["engine"], seen["name"], seen["host"], seen["port"]) == (
        "django.db.backends.postgresql",
        "llmp",
        "db.example.test",
        5433,
    )


def test_it_has_postgresql_keep_statements_prepared_unless_turned_off(tmp_path):
    url = "postgres://llmp:secret@db.example.test:5433/llmp"
    assert settings_seen(tmp_path, DATABASE_URL=url)["prepare_threshold"] == 5
    assert settings_seen(tmp_path, DATABASE_URL=url, DATABASE_PREPARED_STATEMENTS="0")["prepare_threshold"] is None
    assert settings_seen(tmp_path)["prepare_threshold"] == "unset"  # SQLite: no server to prepare on


def test_it_queues_on_the_database_unless_redis_is_configured(tmp_path):
    orm = settings_seen(tmp_path)
    assert orm["q_cluster"]["orm"] == "default"
    assert "redis" not in orm["q_cluster"]
    assert orm["cache"] == "django.core.cache.backends.filebased.FileBasedCache"

    redis = settings_seen(tmp_path, REDIS_URL="redis://127.0.0.1:6399/0")
    assert redis["q_cluster"]["redis"] == "redis://127.0.0.1:6399/0"
    assert "orm" not in redis["q_cluster"]
    assert redis["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_it_never_hands_a_long_task_out_twice_nor_retries_failures_forever(tmp_path):
    cluster = settings_seen(tmp_path, Q_TIMEOUT="7200")["q_cluster"]
    assert cluster["timeout"] == 7200
    assert cluster["retry"] > cluster["timeout"]
    assert cluster["max_attempts"] >= 1
    assert cluster["ack_failures"] is True
    assert cluster["sync"] is False


def test_it_runs_tasks_inline_under_test():
    assert live_settings.Q_CLUSTER["sync"] is True
