"""The API describes itself: a valid OpenAPI 3 schema and Swagger UI that works offline."""

from __future__ import annotations

import contextlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import jsonschema_rs
import pytest
import schemathesis
from django.test import Client
from drf_spectacular import plumbing
from drf_spectacular.extensions import OpenApiViewExtension

from tests.routes import api_routes


def fetch_schema(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    return response.json()


def validate(schema: dict) -> None:
    """Check against the OpenAPI 3 meta-schema (schemathesis' validator)."""
    schemathesis.openapi.from_dict(schema).validate()


def test_it_serves_a_valid_openapi_3_schema_to_anyone(client, db):
    schema = fetch_schema(client)
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


def test_it_would_notice_an_invalid_schema(client, db):
    broken = {**fetch_schema(client), "paths": {"/x": {"get": {"responses": "none"}}}}
    with pytest.raises(jsonschema_rs.ValidationError):
        validate(broken)


def test_it_describes_every_api_route(client, db):
    templates = [re.sub(r"\{[^}]+\}", "[^/]+", path) for path in fetch_schema(client)["paths"]]
    undocumented = [
        route.path
        for route in api_routes()
        if route.path != "/openapi.json" and not any(re.fullmatch(template, route.path) for template in templates)
    ]
    assert undocumented == []


def test_it_renders_swagger_ui_from_this_server_only(client, db, settings):
    settings.WHITENOISE_USE_FINDERS = True
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets, html
    assert any(asset.startswith("/static/drf_spectacular_sidecar/") for asset in assets), assets
    assert all(asset.startswith("/static/") for asset in assets), assets
    assert "//" not in "".join(assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_it_serves_swagger_ui_without_inline_scripts_or_styles(client, db):
    html = client.get("/docs").content.decode()
    start_up = client.get("/docs?script=")

    assert re.findall(r"<script[^>]*>\s*[^<\s]", html) == []
    assert "<style" not in html
    assert '<script src="/docs?script="></script>' in html
    assert start_up.status_code == 200
    assert start_up["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle({" in start_up.content.decode()


@pytest.fixture
def extension_of_a_missing_package():
    """A drf-spectacular extension for a package that is not installed, not loaded yet, as every
    extension is before a process makes its first schema."""

    class MissingPackageView(OpenApiViewExtension):
        target_class = "a_package_not_installed.views.View"
        optional = True

        def view_replacement(self):
            return self.target

    yield MissingPackageView
    OpenApiViewExtension._registry.remove(MissingPackageView)


def test_it_makes_the_first_schema_for_two_threads_at_once(db, monkeypatch, extension_of_a_missing_package):
    # Both threads are held inside the import of the missing package until the other arrives (or, when
    # only one can be there, as it should be, until the barrier gives up waiting for the second).
    both_importing = threading.Barrier(2, timeout=3)
    import_string = plumbing.import_string

    def held_import(path: str):
        if path == extension_of_a_missing_package.target_class:
            with contextlib.suppress(threading.BrokenBarrierError):
                both_importing.wait()
        return import_string(path)

    monkeypatch.setattr(plumbing, "import_string", held_import)
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(lambda _: Client().get("/openapi.json").status_code, range(2)))

    assert statuses == [200, 200]
