"""API paths answer errors as `{"detail": ...}` JSON, never HTML, never a 500 for bad input."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.urls("tests.probe_urls")


def post_json(client: APIClient, body: str | bytes):
    return client.post("/probe/echo", body, content_type="application/json")


@pytest.mark.parametrize("debug", [False, True])
def test_it_answers_unknown_api_paths_with_json_404(client, db, settings, debug):
    settings.DEBUG = debug
    response = client.post("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such path: /no/such/thing"}


def test_it_answers_a_wrong_method_with_json_405(owner_client):
    response = owner_client.get("/probe/echo")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.'}


def test_it_names_the_problem_in_malformed_json(owner_client):
    response = post_json(owner_client, '{"name": "a",')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - Expecting property name")


def test_it_refuses_absurdly_nested_json_with_400(owner_client):
    response = post_json(owner_client, "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400
    assert response.json()["detail"] == "JSON parse error - the document is nested more than 64 levels deep."


def test_it_names_the_fields_with_wrong_types(owner_client):
    response = post_json(owner_client, json.dumps({"name": "a", "count": "many"}))
    assert response.status_code == 400
    assert response.json()["detail"] == "count: A valid integer is required."
    assert response.json()["errors"] == {"count": ["A valid integer is required."]}


def test_it_accepts_good_json(owner_client):
    response = post_json(owner_client, json.dumps({"name": "a", "count": 2}))
    assert response.status_code == 200
    assert response.json() == {"name": "a", "count": 2}


def test_it_refuses_an_oversized_body_with_json_413_before_parsing(owner_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_json(owner_client, json.dumps({"name": "a" * 2000, "count": 1}))
    assert response.status_code == 413
    assert response.json()["detail"] == "The request body is larger than the limit of 1000 bytes."


def test_it_leaves_streamed_bodies_to_their_views(owner_client, settings):
    """Octet-stream chunks (resumable uploads) are streamed to disk by their views, not cut at the door."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = owner_client.post("/probe/echo", b"x" * 2000, content_type="application/octet-stream")
    assert response.status_code == 415


def test_it_refuses_an_oversized_multipart_field_with_json_413(owner_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = owner_client.post("/probe/echo", {"name": "a" * 2000, "count": "1"}, format="multipart")
    assert response.status_code == 413


@pytest.mark.parametrize("debug", [False, True])
def test_it_hides_a_crash_behind_a_json_500(db, owner, settings, debug):
    settings.DEBUG = debug
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(owner)
    response = client.get("/probe/broken")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error; the incident was logged."}


def test_it_keeps_html_error_pages_for_people(client, db):
    response = client.get("/console/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
