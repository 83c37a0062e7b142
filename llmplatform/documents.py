"""What a JSON document the platform keeps may hold.

A document is nested at most MAX_JSON_DEPTH levels and holds no NUL character: deeper
documents break whatever writes them out again later (the YAML of a run's effective
config, Python's own recursion limit), and PostgreSQL stores no NUL in text or jsonb.
`json_document_problem` says so for the API's parser and the console's JSON fields
alike; `nesting_depth` serves rules with a tighter limit of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext

from llmplatform.training_yaml import shortened

# Deeper than any config or metadata a person writes, far below Python's recursion limit.
MAX_JSON_DEPTH = 64


def values_in(document: Any, *, below: int) -> Iterator[tuple[Any, int, str]]:
    """Each value of `document` with its depth (the document itself: 1) and where it sits
    (`a.b[0]`), without recursion; what lies deeper than `below` + 1 levels is not visited."""
    pending: list[tuple[Any, int, str]] = [(document, 1, "")]
    while pending:
        value, depth, where = pending.pop()
        yield value, depth, where
        if depth > below:
            continue
        if isinstance(value, dict):
            pending.extend((item, depth + 1, f"{where}.{key}" if where else str(key)) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((item, depth + 1, f"{where}[{index}]") for index, item in enumerate(value))


def nesting_depth(document: Any, *, limit: int) -> int:
    """Levels of objects and lists in `document` (a scalar: 0), counted no further than limit + 1."""
    levels = (depth for value, depth, _ in values_in(document, below=limit) if isinstance(value, dict | list))
    return max(levels, default=0)


def nested_too_deeply() -> str:
    return gettext("the document is nested more than %(limit)d levels deep") % {"limit": MAX_JSON_DEPTH}


def json_document_problem(document: Any) -> str | None:
    """What makes a parsed JSON document unfit to keep, in a sentence naming where; None when nothing does."""
    for value, depth, where in values_in(document, below=MAX_JSON_DEPTH):
        if isinstance(value, str) and "\x00" in value:
            return holds_nul(where)
        if isinstance(value, dict | list) and depth > MAX_JSON_DEPTH:
            return nested_too_deeply()
        if isinstance(value, dict) and any("\x00" in str(key) for key in value):
            return holds_nul(where)
    return None


def holds_nul(where: str) -> str:
    if not where:
        return gettext("the document holds a NUL character (\\u0000); no string may")
    return gettext("`%(where)s` holds a NUL character (\\u0000); no string may") % {"where": shortened(where)}
