"""The README's production environment passes Django's deployment checks, and what it turns on
(HTTPS behind a proxy) works, while the defaults keep plain http://127.0.0.1 working."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

from django.conf import settings

from llmplatform.testing import manage_py
from tests.probes import last_json_line
from tests.test_settings import clean_env

HTTPS_PROBE = """
import json
from django.test import Client
client = Client()
plain = client.get("/console/login/")
probe = client.get("/healthz")
proxied = client.get("/console/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location")],
    "probe": probe.status_code,
    "proxied": proxied.status_code,
    "hsts": proxied.headers.get("Strict-Transport-Security"),
    "secure_cookie": bool(proxied.cookies["csrftoken"]["secure"]),
}))
"""


def production_environment() -> dict[str, str]:
    """The `export NAME=value` lines of the README's "In production" block, with a fresh SECRET_KEY."""
    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    block = readme.split("### In production", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    exported = dict(re.findall(r"^export (\w+)=(\S+)", block, re.MULTILINE))
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "HTTPS"} <= exported.keys(), block
    return {**exported, "SECRET_KEY": secrets.token_urlsafe(50)}


def test_it_passes_the_deployment_checks_with_the_readmes_production_environment(tmp_path):
    env = clean_env(tmp_path, **{**production_environment(), "DATA_DIR": str(tmp_path / "data")})

    checked = subprocess.run(
        manage_py("check", "--deploy", "--fail-level", "WARNING"), env=env, capture_output=True, text=True, timeout=120
    )

    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues (0 silenced)." in checked.stdout


def test_it_serves_https_behind_a_proxy_and_leaves_the_health_probes_on_http(tmp_path):
    env = clean_env(
        tmp_path, DEBUG="1", HTTPS="1", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto", ALLOWED_HOSTS="testserver"
    )

    seen = last_json_line(HTTPS_PROBE, env)

    assert seen["plain"] == [301, "https://testserver/console/login/"]
    assert seen["probe"] != 301
    assert seen["proxied"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["secure_cookie"] is True


def test_it_keeps_plain_http_working_by_default(tmp_path):
    seen = last_json_line(HTTPS_PROBE, clean_env(tmp_path, DEBUG="1", ALLOWED_HOSTS="testserver"))

    assert seen["plain"] == [200, None]
    assert seen["hsts"] is None
    assert seen["secure_cookie"] is False
