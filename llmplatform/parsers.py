"""Request parsers (a module of their own: DRF imports them while building APIView).

A JSON document the platform keeps is nested at most MAX_JSON_DEPTH levels and holds no
NUL character: deeper documents break whatever writes them out again later (the YAML of
a run's effective config, Python's own recursion limit), and PostgreSQL stores no NUL in
text or jsonb. `json_document_problem` says so for the API's parser and the console's
JSON fields alike.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from llmplatform.training_yaml import shortened

# Deeper than any config or metadata a person writes, far below Python's recursion limit.
MAX_JSON_DEPTH = 64


def nested_too_deeply() -> str:
    return gettext("the document is nested more than %(limit)d levels deep") % {"limit": MAX_JSON_DEPTH}


def json_document_problem(document: Any) -> str | None:
    """What makes a parsed JSON document unfit to keep, in a sentence naming where; None when nothing does."""
    pending: list[tuple[Any, int, str]] = [(document, 1, "")]
    while pending:
        value, depth, where = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return holds_nul(where)
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                return nested_too_deeply()
            if isinstance(value, list):
                pending.extend((item, depth + 1, f"{where}[{index}]") for index, item in enumerate(value))
                continue
            if any("\x00" in key for key in value):
                return holds_nul(where)
            pending.extend((item, depth + 1, f"{where}.{key}" if where else key) for key, item in value.items())
    return None


def holds_nul(where: str) -> str:
    if not where:
        return gettext("the document holds a NUL character (\\u0000); no string may")
    return gettext("`%(where)s` holds a NUL character (\\u0000); no string may") % {"where": shortened(where)}


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, plus a 400 (not a 500, nor a document kept) for what `json_document_problem` refuses."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(f"JSON parse error - {nested_too_deeply()}.") from exc
        if problem := json_document_problem(document):
            raise exceptions.ParseError(f"JSON parse error - {problem}.")
        return document
