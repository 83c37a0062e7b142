"""Reading a training YAML without trusting it: the one loader of uploads and run launches.

`load_training_yaml(content)` is `yaml.safe_load` with bounds: at most MAX_YAML_BYTES,
UTF-8 text, at most MAX_YAML_ALIASES aliases and MAX_YAML_NODES values once aliases
are expanded, collections nested at most MAX_YAML_DEPTH levels, and a mapping with
string keys at the top. Whatever it refuses raises
`TrainingYamlError`, whose problems are short sentences: they quote at most a few
dozen characters of the input, however big or deep the input is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from yaml.reader import ReaderError

from llmplatform.sentences import JOINED, gettext_noop

# More aliases than this in one file is not a config, it is an expansion bomb.
MAX_YAML_ALIASES = 50
# ...and neither is a document that expands to more nodes than this.
MAX_YAML_NODES = 100_000
# Deeper than any config; PyYAML composes nested collections recursively, so a document
# nested a few thousand levels deep would end in a RecursionError instead of a refusal.
MAX_YAML_DEPTH = 64
# The most characters of the input (a value, a parser message) a problem quotes.
QUOTE_CHARS = 200


class TrainingYamlError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(JOINED.join(problems))
        self.problems = problems


def shortened(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` cut to `limit` characters, saying so when it was."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def quoted(value: Any) -> str:
    """The repr of a value read from a YAML, short enough for a message or a log line."""
    return shortened(repr(value))


class _BoundedSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses a document with more than MAX_YAML_ALIASES aliases or MAX_YAML_DEPTH levels,
    and reads `1e-3` as the number YAML 1.2 (and LLaMA-Factory's OmegaConf) reads, not as YAML 1.1's text:
    the effective config written from it must hand the trainer the number the YAML's author wrote."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_count = 0
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_YAML_ALIASES:
                raise TrainingYamlError(
                    [
                        gettext_noop(
                            "more than {limit} YAML aliases (*name); refused as a possible expansion bomb"
                        ).format(limit=MAX_YAML_ALIASES)
                    ]
                )
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise TrainingYamlError(
                [
                    gettext_noop("the document is nested more than {limit} levels deep; refused").format(
                        limit=MAX_YAML_DEPTH
                    )
                ]
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


# A float without a dot (`1e-3`, `5E+4`), which YAML 1.1's resolver leaves as text.
_BoundedSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def _where(mark: yaml.Mark) -> dict[str, int]:
    return {"line": mark.line + 1, "column": mark.column + 1}


def _said(text: str) -> str:
    """A context or problem of PyYAML's on one line, quoting at most QUOTE_CHARS of what it quotes."""
    return shortened(" ".join(text.split()))


def parser_problem(exc: yaml.YAMLError) -> str:
    """What PyYAML found wrong, as a sentence of the catalog: its context and problem (each one of
    llmplatform.yaml_messages) where each happened, without the lines of the document it quotes."""
    if isinstance(exc, ReaderError) and isinstance(exc.character, int):
        return gettext_noop(
            "not valid YAML: unacceptable character #x{code:04x} at position {position}: {reason}"
        ).format(code=exc.character, position=exc.position, reason=exc.reason)
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem is None or exc.problem_mark is None:
        return gettext_noop("not valid YAML: {error}").format(error=_said(str(exc)))
    problem = {"problem": _said(exc.problem), **_where(exc.problem_mark)}
    if exc.context is None:
        return gettext_noop("not valid YAML: {problem} (line {line}, column {column})").format(**problem)
    context_mark = exc.context_mark
    if context_mark is None or _where(context_mark) == _where(exc.problem_mark):
        # The context inside the brackets: a problem may hold a comma, so no separator before it could tell
        # a sentence with a context from one without (llmplatform.sentences reads the values back out).
        return gettext_noop("not valid YAML: {problem} ({context}, line {line}, column {column})").format(
            context=_said(exc.context), **problem
        )
    return gettext_noop(
        "not valid YAML: {context} (line {context_line}, column {context_column}), "
        "{problem} (line {line}, column {column})"
    ).format(
        context=_said(exc.context),
        context_line=context_mark.line + 1,
        context_column=context_mark.column + 1,
        **problem,
    )


def _expanded_nodes(value: Any, budget: int) -> int:
    """How many nodes `value` has once its shared (aliased) parts are expanded, up to budget+1."""
    seen = 0
    stack = [value]
    while stack and seen <= budget:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return seen


def load_training_yaml(content: bytes) -> dict[str, Any]:
    """Parse a training YAML, or raise TrainingYamlError with what is wrong."""
    limit = settings.MAX_YAML_BYTES
    if len(content) > limit:
        raise TrainingYamlError(
            [gettext_noop("the file is larger than the {limit} bytes allowed for a training YAML").format(limit=limit)]
        )
    if not content.strip():
        raise TrainingYamlError([gettext_noop("the file is empty")])
    if b"\x00" in content:
        raise TrainingYamlError([gettext_noop("the file is binary, not YAML text (it holds NUL bytes)")])
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TrainingYamlError(
            [
                gettext_noop("the file is not UTF-8 text (byte 0x{byte:02x} at {offset})").format(
                    byte=content[exc.start], offset=exc.start
                )
            ]
        ) from None
    try:
        loader = _BoundedSafeLoader(text)  # the reader refuses a character YAML does not allow here already
    except yaml.YAMLError as exc:
        raise TrainingYamlError([parser_problem(exc)]) from None
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise TrainingYamlError([parser_problem(exc)]) from None
    except TrainingYamlError:
        raise
    except ValueError as exc:  # a date or time that does not exist: PyYAML lets datetime's refusal through
        raise TrainingYamlError(
            [
                gettext_noop("not valid YAML: a value written as a date or time is none ({error})").format(
                    error=_said(str(exc))
                )
            ]
        ) from None
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        kind = gettext_noop("empty") if document is None else type(document).__name__
        raise TrainingYamlError(
            [gettext_noop("the top level must be a mapping of keys to values, got {kind}").format(kind=kind)]
        )
    if _expanded_nodes(document, MAX_YAML_NODES) > MAX_YAML_NODES:
        raise TrainingYamlError(
            [gettext_noop("the document expands to more than {limit} values; refused").format(limit=MAX_YAML_NODES)]
        )
    if not all(isinstance(key, str) for key in document):
        raise TrainingYamlError([gettext_noop("every top-level key must be a string")])
    return document


def read_training_yaml(path: Path) -> dict[str, Any]:
    """`load_training_yaml` for a file on disk, reading no more than the limit allows."""
    with open(path, "rb") as source:
        content = source.read(settings.MAX_YAML_BYTES + 1)
    return load_training_yaml(content)
