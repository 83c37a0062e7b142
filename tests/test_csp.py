"""Every response says where a page may load code and styles from: this server, nothing inline but style attributes."""

from __future__ import annotations

import pytest

from llmplatform.csp import POLICY


@pytest.mark.parametrize("path", ["/console/login/", "/docs", "/v1/audit-events", "/no/such/path", "/healthz"])
def test_it_sends_the_policy_with_every_response(client, db, path):
    policy = client.get(path)["Content-Security-Policy"]

    directives = dict(directive.split(" ", 1) for directive in policy.split("; "))
    assert directives == POLICY
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "unsafe" not in policy.replace("style-src-attr 'unsafe-inline'", "")
