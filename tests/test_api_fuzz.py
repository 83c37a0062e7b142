"""Schemathesis calls every operation in /openapi.json with generated input, authenticated
as a staff operator, in-process against the WSGI application.

Nothing may answer 5xx (unless its operation documents that status, like the
health probe's 503), every status must be one its operation documents, and every
answer must match the body, content type and headers documented for it. New
endpoints are covered as soon as they appear in the schema. The full run (every
phase, member and staff, a real server): security/schemathesis_run.py.
"""

from __future__ import annotations

import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Examples per operation: enough to try each field with good and bad values, small
# enough that the whole run stays well under a minute as the API grows.
EXAMPLES_PER_OPERATION = 8


# Loaded while tests are collected (building the schema needs no database), so
# each operation becomes a test of its own.
schema = schemathesis.openapi.from_wsgi("/openapi.json", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_it_answers_generated_calls_without_5xx_and_as_documented(case, transactional_db, staff):
    # transactional_db: the WSGI handler closes its connection after each request,
    # which a test wrapped in one transaction would not survive.
    headers = {"Authorization": f"Token {staff.auth_token.key}"}
    response = case.call(headers=headers)
    conformance = [status_code_conformance, content_type_conformance, response_headers_conformance]
    documented = str(response.status_code) in case.operation.definition.raw.get("responses", {})
    checks = [*conformance, response_schema_conformance] if documented else [not_a_server_error, *conformance]
    case.validate_response(response, checks=checks, headers=headers)
