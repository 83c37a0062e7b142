"""The domain's refusals, named once; each front end translates them its own way.

Services, models and their helpers raise these, never HTTP exceptions. The API turns
them into `{"detail": <sentence>, **fields}` with the status `llmplatform.api` maps
each class to; the console puts the same sentence on the form the person sent; the
admin shows it as a message. A domain module that needs a more precise name
subclasses one of these (`class UnknownGpuType(InvalidInput)`), so the mapping stays
in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """A refusal in one sentence for people, with optional structured fields.

    `raise InvalidInput("Missing training files.", missing=["datasets/x.jsonl"])`
    reaches a script as `400 {"detail": "Missing training files.", "missing": [...]}`.
    """

    def __init__(self, detail: str, **fields: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields

    def __str__(self) -> str:
        return self.detail


class InvalidInput(DomainError):
    """What was asked for is malformed or names something unusable (HTTP 400)."""


class NotPermitted(DomainError):
    """The person may see the object but not do this to it (HTTP 403)."""


class NotFound(DomainError):
    """No such object, or none this person may see (HTTP 404)."""


class ConflictingState(DomainError):
    """The object's current state does not allow it, e.g. cancelling a finished run (HTTP 409)."""


class TooLarge(DomainError):
    """The input is bigger than the platform accepts (HTTP 413)."""


class UnsupportedMedia(DomainError):
    """The input is of a kind the platform does not read (HTTP 415)."""


class OutOfSpace(DomainError):
    """The platform has no room to keep the input, e.g. a disk too full for an announced upload (HTTP 507)."""


def field_problems(values: Mapping[str, Any], rules: Mapping[str, Callable[[Any], object]]) -> dict[str, list[str]]:
    """The sentences of each rule (a Django validator) that the value of its field in `values` breaks."""
    problems: dict[str, list[str]] = {}
    for field, rule in rules.items():
        if field not in values:
            continue
        try:
            rule(values[field])
        except ValidationError as error:
            problems[field] = error.messages
    return problems


def refuse_invalid_fields(values: Mapping[str, Any], rules: Mapping[str, Callable[[Any], object]]) -> None:
    """InvalidInput naming each field of `values` that breaks its rule: a service's own check of the rules
    the API's serializers and the console's forms run first, so that every caller is refused alike
    (`{"detail": "field: sentence", "errors": {field: [sentence]}}`, the shape of a serializer's refusal)."""
    problems = field_problems(values, rules)
    if problems:
        detail = "; ".join(f"{field}: {message}" for field, messages in problems.items() for message in messages)
        raise InvalidInput(detail, errors=problems)
