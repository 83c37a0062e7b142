"""What /openapi.json says of every operation beyond a view's own `extend_schema`.

drf-spectacular documents what a view declares; the platform answers more than that,
the same way everywhere, so `PlatformAutoSchema` (DRF's DEFAULT_SCHEMA_CLASS) adds it
to every operation from what the view is made of:

- 401 where the view authenticates, 429 where it counts wrong tokens or throttles;
- 403 where a permission may refuse someone signed in (unless the view answers refusals its
  own way), or the method is unsafe and a console session may send it (CSRF);
- 404 where the path names an object, 400 where there is a parameter or a body to get wrong;
- 413 and 415 where there is a body (llmplatform.bodies, DRF's parsers).

A view declares the rest itself, where its domain refusals (`llmplatform.errors`) can
happen: 409, 507, a 403 or 404 of its own. Every refusal gets the body the exception
handler and the middlewares give it, `{"detail": sentence, ...}` (`ERROR_BODIES`), so
a view's `OpenApiResponse(description=...)` needs no body.

Fields say when they can be null: besides `allow_null`, a response field is nullable when
its default is None or its source passes through a nullable model field (`created_by.username`
of an object whose creator was deleted), which is what DRF renders as null. A field declared
`required=False` may be left out of a response, so it is not listed as required there.

Requests: an optional query parameter may be empty (DRF and the paging read `?limit=` as
none given), and a JSON endpoint takes JSON (`map_parsers`). `add_links`, a postprocessing
hook, links what creates or lists objects to what reads one of them.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from llmplatform.authentication import ThrottledTokenAuthentication


class ErrorSerializer(serializers.Serializer):
    """A refusal: `detail` for people, sometimes with fields naming what to fix (`missing`, `received_bytes`)."""

    detail = serializers.CharField(help_text="What went wrong, in one sentence.")


class ValidationErrorSerializer(ErrorSerializer):
    """Bad input: `detail` names each problem; `errors`, when a serializer refused, holds them per field."""

    # DRF's metaclass takes declared fields off the class: this hides no `Serializer.errors` at run time.
    errors = serializers.JSONField(  # type: ignore[assignment]
        required=False, help_text="Field name → what is wrong with it."
    )


class BodyTooLargeSerializer(ErrorSerializer):
    """A body or file over a limit; `limit_bytes` is the limit, when one setting sets it."""

    limit_bytes = serializers.IntegerField(required=False)


ERROR_BODIES: dict[int, type[ErrorSerializer]] = {
    status.HTTP_400_BAD_REQUEST: ValidationErrorSerializer,
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: BodyTooLargeSerializer,
}

# Why the platform answers each status, for operations whose view says nothing more precise.
COMMON_REASONS: dict[int, str] = {
    status.HTTP_400_BAD_REQUEST: "Bad input: `detail` names what is wrong (and `errors` per field).",
    status.HTTP_401_UNAUTHORIZED: "No credentials, or a wrong token: send `Authorization: Token <key>`.",
    status.HTTP_403_FORBIDDEN: (
        "Not yours to do: a permission you lack, or a console session's request without its CSRF token."
    ),
    status.HTTP_404_NOT_FOUND: "No such object, or none you may see.",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "The body is over MAX_JSON_BODY_BYTES (or the operation's own limit).",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "A body of a type this operation does not read.",
    status.HTTP_429_TOO_MANY_REQUESTS: (
        "Too many wrong tokens from your address (TOKEN_FAILURE_RATE): wait Retry-After seconds."
    ),
}

REFUSAL_HEADERS: dict[int, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "The scheme to authenticate with."}
    },
    status.HTTP_429_TOO_MANY_REQUESTS: {
        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}
    },
}

# Permissions that refuse nobody who is signed in.
ADMITTING_EVERYONE_SIGNED_IN = (AllowAny, IsAuthenticated)


class PlatformAutoSchema(AutoSchema):
    def common_statuses(self, operation: dict[str, Any]) -> list[int]:
        """The statuses this operation can answer whatever its view does (see the module's docstring)."""
        authenticators = self.view.get_authenticators()
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        statuses: list[int] = []
        if authenticators:
            statuses.append(status.HTTP_401_UNAUTHORIZED)
        if any(isinstance(each, ThrottledTokenAuthentication) for each in authenticators) or self.view.get_throttles():
            statuses.append(status.HTTP_429_TOO_MANY_REQUESTS)
        # A view that answers refusals its own way (permission_denied) declares what it answers.
        own_refusals = type(self.view).permission_denied is not APIView.permission_denied
        refusing = not own_refusals and any(
            not isinstance(permission, ADMITTING_EVERYONE_SIGNED_IN) for permission in self.view.get_permissions()
        )
        csrf = self.method not in SAFE_METHODS and any(isinstance(a, SessionAuthentication) for a in authenticators)
        if refusing or csrf:
            statuses.append(status.HTTP_403_FORBIDDEN)
        if any(parameter["in"] == "path" for parameter in parameters):
            statuses.append(status.HTTP_404_NOT_FOUND)
        if parameters or has_body:
            statuses.append(status.HTTP_400_BAD_REQUEST)
        if has_body:
            statuses += [status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, status.HTTP_415_UNSUPPORTED_MEDIA_TYPE]
        return statuses

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: ComponentRegistry
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                # DRF and the paging read an empty value as none at all (`?limit=` is the default).
                parameter["allowEmptyValue"] = True
        responses = operation["responses"]
        for code in self.common_statuses(operation):
            responses.setdefault(str(code), {"description": COMMON_REASONS[code]})
        for code, response in responses.items():
            if int(code) >= 400:
                self._document_refusal(int(code), response)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _document_refusal(self, code: int, response: dict[str, Any]) -> None:
        """The body (and headers) the platform sends with this refusal, unless the view gave its own."""
        if "content" not in response:
            body = self._get_response_for_code(ERROR_BODIES.get(code, ErrorSerializer), str(code))
            response["content"] = body["content"]
        if code in REFUSAL_HEADERS:
            response["headers"] = {**REFUSAL_HEADERS[code], **response.get("headers", {})}

    def map_parsers(self) -> list[str]:
        """A JSON endpoint is documented as JSON. DRF's default parsers read a form into it too, but a form
        carries strings only, never JSON's null, numbers, lists or objects, so a JSON schema cannot describe
        one; the upload endpoints, which read files, have their own parsers and document their forms."""
        media_types = super().map_parsers()
        if [type(parser) for parser in self.view.get_parsers()] == api_settings.DEFAULT_PARSER_CLASSES:
            return [media_type for media_type in media_types if media_type != MultiPartParser.media_type]
        return media_types

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListField) and not field.allow_empty and "minItems" not in schema:
            schema["minItems"] = 1
        return schema

    def _get_serializer_field_meta(self, field: Any, direction: str) -> dict[str, Any]:
        meta = super()._get_serializer_field_meta(field, direction)
        if direction == "response" and isinstance(field, serializers.Field) and renders_null(field):
            meta["nullable"] = True
        return meta

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and "required" in schema:
            optional = {name for name, field in serializer.fields.items() if declared(field).get("required") is False}
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema


def declared(field: serializers.Field) -> dict[str, Any]:
    """The keyword arguments the field was made with (DRF keeps them to copy fields)."""
    return getattr(field, "_kwargs", {})


def renders_null(field: serializers.Field) -> bool:
    """Whether DRF can render this field of an object as null (see the module's docstring)."""
    if field.allow_null or ("default" in declared(field) and declared(field)["default"] is None):
        return True
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    return model is not None and source_passes_null(model, field.source_attrs)


def source_passes_null(model: type[models.Model], attributes: list[str]) -> bool:
    """Whether following `attributes` from an instance of `model` can meet None before their end."""
    for attribute in attributes:
        try:
            model_field = model._meta.get_field(attribute)
        except FieldDoesNotExist:
            return False  # a property or method: its annotations speak for it
        if not isinstance(model_field, (models.Field, models.ForeignObjectRel)):
            return False  # a generic foreign key: no schema field follows one
        if model_field.one_to_many or model_field.many_to_many:
            return False  # a manager, never None
        if model_field.null:
            return True  # reverse one-to-one relations too: DRF renders a missing one as None
        if not isinstance(model_field.related_model, type):
            return False
        model = model_field.related_model
    return False


# --- Links: how the answer of one operation names the object of another -------------------------

# Collections whose objects live under another path too: collection -> (that path, its parameter).
ALSO_REACHED_AT = {
    "/v1/datasets/{dataset_id}/files": ("/v1/uploads", "upload_id"),
    "/v1/datasets/{dataset_id}/uploads": ("/v1/uploads", "upload_id"),
    "/v1/datasets/{dataset_id}/deidentify": ("/v1/deid-jobs", "job_id"),
}


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: OpenAPI links from what creates or lists objects to what
    reads, changes or deletes one of them, for clients (and schemathesis' stateful phase) to follow.

    An object that `POST /things` makes (or `GET /things` lists) is `/things/{thing_id}`, with every
    path below it: `thing_id` is the object's field of that name, else its `id`, and the other path
    parameters are the producer's own. ALSO_REACHED_AT names objects that live elsewhere too.
    """
    schemas = result.get("components", {}).get("schemas", {})
    operations = [(path, operation) for path, methods in result["paths"].items() for operation in methods.values()]
    for path, methods in result["paths"].items():
        for method, producer in methods.items():
            if method not in {"get", "post", "put"}:
                continue
            for code, response in producer["responses"].items():
                item = produced_item(response, schemas) if code.startswith("2") else None
                if item is None:
                    continue
                links = {
                    target["operationId"]: {"operationId": target["operationId"], "parameters": parameters}
                    for target_path, target in operations
                    if (parameters := link_parameters(path, target_path, item))
                }
                if links:
                    response["links"] = links
    return result


def produced_item(response: dict[str, Any], schemas: dict[str, Any]) -> tuple[str, set[str]] | None:
    """Where a 2xx body holds one object (a JSON pointer) and that object's fields; None if it holds none."""
    schema = resolved(response.get("content", {}).get("application/json", {}).get("schema"), schemas)
    pointer = ""
    if schema.get("type") == "array":
        pointer, schema = "/0", resolved(schema.get("items"), schemas)
    elif schema.get("properties", {}).get("items", {}).get("type") == "array":
        pointer, schema = "/items/0", resolved(schema["properties"]["items"].get("items"), schemas)
    fields = set(schema.get("properties", {}))
    return (pointer, fields) if fields else None


def resolved(schema: dict[str, Any] | None, schemas: dict[str, Any]) -> dict[str, Any]:
    if not schema:
        return {}
    if "$ref" in schema:
        return schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def link_parameters(producer_path: str, target_path: str, item: tuple[str, set[str]]) -> dict[str, str]:
    """The target's path parameters, from the produced object and the producer's path; empty if it names
    anything else, or is not an object of the producer's collection."""
    pointer, fields = item
    collections: list[tuple[str, str | None]] = [(producer_path, None)]
    if producer_path in ALSO_REACHED_AT:
        collections.append(ALSO_REACHED_AT[producer_path])
    own = set(re.findall(r"{(\w+)}", producer_path))
    for collection, expected in collections:
        match = re.match(re.escape(collection) + r"/{(\w+)}", target_path)
        if match is None or expected not in (None, match[1]):
            continue
        name = match[1]
        field = name if name in fields else "id"
        if field not in fields:
            continue
        parameters = {f"path.{name}": f"$response.body#{pointer}/{field}"}
        for other in set(re.findall(r"{(\w+)}", target_path)) - {name}:
            if other not in own:
                return {}
            parameters[f"path.{other}"] = f"$request.path.{other}"
        return parameters
    return {}
