"""The domain's refusals, named once; each front end translates them its own way.

Services, models and their helpers raise these, never HTTP exceptions. The API turns
them into `{"detail": <sentence>, **fields}` with the status `llmplatform.api` maps
each class to; the console puts the same sentence on the form the person sent; the
admin shows it as a message. A domain module that needs a more precise name
subclasses one of these (`class UnknownGpuType(InvalidInput)`), so the mapping stays
in one place.

The sentence is a catalog template made lazily (`format_lazy(gettext_lazy("No project
{reference!r}."), reference=...)`, see `llmplatform.sentences`): `detail` is it in
English, as the API and the logs keep it; `message` renders it in the language of
whoever reads it, as the console does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.text import format_lazy

from llmplatform.sentences import Text, english, join_lazy


class DomainError(Exception):
    """A refusal in one sentence for people, with optional structured fields.

    `raise InvalidInput("Missing training files.", missing=["datasets/x.jsonl"])`
    reaches a script as `400 {"detail": "Missing training files.", "missing": [...]}`.
    """

    def __init__(self, message: Text, **fields: Any) -> None:
        self.detail = english(message)
        super().__init__(self.detail)
        self.message = message
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
    return {field: [str(message) for message in messages] for field, messages in _broken_rules(values, rules)}


def _broken_rules(
    values: Mapping[str, Any], rules: Mapping[str, Callable[[Any], object]]
) -> list[tuple[str, list[Text]]]:
    broken: list[tuple[str, list[Text]]] = []
    for field, rule in rules.items():
        if field not in values:
            continue
        try:
            rule(values[field])
        except ValidationError as error:
            broken.append((field, [_lazy_message(problem) for problem in error.error_list]))
    return broken


def _lazy_message(problem: ValidationError) -> Text:
    """A validator's sentence with its parameters, made when read (Django's own are translated then)."""
    message = problem.message
    return _percent_lazy(message, problem.params) if problem.params else message


def _percent(message: Text, params: Mapping[str, Any]) -> str:
    return message % params  # a plural message (ngettext_lazy) picks its form from `params`


_percent_lazy = lazy(_percent, str)


def refuse_invalid_fields(values: Mapping[str, Any], rules: Mapping[str, Callable[[Any], object]]) -> None:
    """InvalidInput naming each field of `values` that breaks its rule: a service's own check of the rules
    the API's serializers and the console's forms run first, so that every caller is refused alike
    (`{"detail": "field: sentence", "errors": {field: [sentence]}}`, the shape of a serializer's refusal)."""
    broken = _broken_rules(values, rules)
    if broken:
        sentences = [format_lazy("{}: {}", field, message) for field, messages in broken for message in messages]
        problems = {field: [english(message) for message in messages] for field, messages in broken}
        raise InvalidInput(join_lazy("; ", sentences), errors=problems)
