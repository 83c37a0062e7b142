"""Checking a data file against its task type, one line at a time.

`validate_file(path, task_type)` streams the file (never more than one line in
memory), and returns a report: how many records, the first MAX_ERRORS_KEPT errors
with line number, field and reason, how many errors in all, and per-field statistics
(roles, turns, text lengths). The record rules are those of data-formats.md.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from datasets.models import TaskType

MAX_ERRORS_KEPT = 100
PROGRESS_EVERY_BYTES = 16 * 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
# Control characters a cleaned pretraining text must not hold (\t and \n are fine).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONVERSATION_ROLES = ("system", "user", "assistant", "tool")
_ROLE_SET = frozenset(CONVERSATION_ROLES)
# Which role may follow which in a conversation (system only opens one).
_NEXT_ROLES = {
    None: {"system", "user"},
    "system": {"user"},
    "user": {"assistant"},
    "assistant": {"user", "tool"},
    "tool": {"assistant", "tool"},
}

Problem = tuple[str, str]  # (field, reason)


class Summary:
    """count / min / max / mean of a number seen many times, in constant memory."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.min: int | float | None = None
        self.max: int | float | None = None

    def add(self, value: int | float) -> None:
        self.count += 1
        self.total += value
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value

    def as_dict(self) -> dict[str, Any]:
        mean = round(self.total / self.count, 2) if self.count else None
        return {"count": self.count, "min": self.min, "max": self.max, "mean": mean, "total": self.total}


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and value != "" and not value.isspace()


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(_non_empty_string(item) for item in value)


# Optional fields per record kind: (field, is it right?, what it must be).
OptionalField = tuple[str, Callable[[Any], bool], str]
_CONVERSATION_OPTIONAL: tuple[OptionalField, ...] = (
    ("conversation_id", lambda v: isinstance(v, str | int) and not isinstance(v, bool), "a string"),
    ("system_prompt", lambda v: isinstance(v, str), "a string"),
    ("input_template", lambda v: isinstance(v, str), "a string"),
    ("task_tags", _string_list, "a list of strings"),
    ("metadata", lambda v: isinstance(v, dict), "an object"),
)
_PREFERENCE_OPTIONAL: tuple[OptionalField, ...] = (("metadata", lambda v: isinstance(v, dict), "an object"),)
_PRETRAIN_OPTIONAL: tuple[OptionalField, ...] = (
    ("doc_id", lambda v: isinstance(v, str | int) and not isinstance(v, bool), "a string"),
    ("metadata", lambda v: isinstance(v, dict), "an object"),
)


def _check_optional(
    record: dict, fields: tuple[OptionalField, ...], seen: Counter[str], problems: list[Problem]
) -> None:
    for key, is_right, expected in fields:
        if key in record:
            seen[key] += 1
            if not is_right(record[key]):
                problems.append((key, f"must be {expected}, got {_type_name(record[key])}"))


class ConversationRecords:
    """sft and lora: `messages`, a list of {role, content} turns in a sensible order.

    `check` is the hot loop of a multi-GB validation: messages are built only for errors.
    """

    def __init__(self, *, lora: bool) -> None:
        self.lora = lora
        self.roles: Counter[str] = Counter()
        self.turns = Summary()
        self.content_chars: dict[str, Summary] = {role: Summary() for role in CONVERSATION_ROLES}
        self.optional_fields: Counter[str] = Counter()
        self.ranks = Summary()
        self.target_modules: Counter[str] = Counter()

    def check(self, record: dict, problems: list[Problem]) -> None:
        messages = record.get("messages")
        if messages is None:
            problems.append(("messages", "is required: a list of {role, content} turns"))
        elif not isinstance(messages, list):
            problems.append(("messages", f"must be a list of {{role, content}} turns, got {_type_name(messages)}"))
        else:
            self._check_turns(messages, problems)
        if len(record) > 1:
            _check_optional(record, _CONVERSATION_OPTIONAL, self.optional_fields, problems)
            if self.lora:
                self._check_lora_overrides(record, problems)

    def _check_turns(self, messages: list, problems: list[Problem]) -> None:
        previous: str | None = None
        has_user = has_assistant = False
        for index, turn in enumerate(messages):
            if not isinstance(turn, dict):
                problems.append(
                    (f"messages[{index}]", f"must be an object with role and content, got {_type_name(turn)}")
                )
                previous = None
                continue
            role, content = turn.get("role"), turn.get("content")
            if not isinstance(role, str) or role not in _ROLE_SET:  # a list is no role, and unhashable
                problems.append(
                    (f"messages[{index}].role", f"must be one of {', '.join(CONVERSATION_ROLES)}, got {role!r}")
                )
                previous = None
            else:
                if role not in _NEXT_ROLES[previous]:
                    after = f"after {previous!r}" if previous else "to open the conversation"
                    problems.append((f"messages[{index}].role", f"{role!r} is out of order {after}"))
                has_user = has_user or role == "user"
                has_assistant = has_assistant or role == "assistant"
                self.roles[role] += 1
                if isinstance(content, str):
                    self.content_chars[role].add(len(content))
                previous = role
            if not _non_empty_string(content):
                problems.append((f"messages[{index}].content", "must be a non-empty string"))
        self.turns.add(len(messages))
        if not has_user:
            problems.append(("messages", "needs at least one user turn"))
        if not has_assistant:
            problems.append(("messages", "needs at least one assistant turn"))

    def _check_lora_overrides(self, record: dict, problems: list[Problem]) -> None:
        if "target_modules" in record:
            modules = record["target_modules"]
            if _string_list(modules) and modules:
                self.target_modules.update(modules)
            else:
                problems.append(("target_modules", "must be a non-empty list of module names"))
        if "rank" in record:
            rank = record["rank"]
            if isinstance(rank, int) and not isinstance(rank, bool) and rank > 0:
                self.ranks.add(rank)
            else:
                problems.append(("rank", f"must be a positive integer, got {rank!r}"))

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = {
            "roles": dict(self.roles),
            "turns": self.turns.as_dict(),
            "content_chars": {role: summary.as_dict() for role, summary in self.content_chars.items() if summary.count},
            "optional_fields": dict(self.optional_fields),
        }
        if self.lora:
            stats["rank"] = self.ranks.as_dict()
            stats["target_modules"] = dict(self.target_modules.most_common(20))
        return stats


class PreferenceRecords:
    """rl: a `prompt` with `chosen`/`rejected`, or with scored `responses` (two or more)."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.prompt_chars = Summary()
        self.response_chars = Summary()
        self.responses_per_prompt = Summary()
        self.optional_fields: Counter[str] = Counter()

    def check(self, record: dict, problems: list[Problem]) -> None:
        prompt = record.get("prompt")
        if not _non_empty_string(prompt):
            problems.append(("prompt", "is required: a non-empty string"))
        else:
            self.prompt_chars.add(len(prompt))
        has_pair = "chosen" in record or "rejected" in record
        has_responses = "responses" in record
        if has_pair and has_responses:
            problems.append(("responses", "give either chosen + rejected or responses, not both"))
        elif has_pair:
            self.kinds["pair"] += 1
            for key in ("chosen", "rejected"):
                if not _non_empty_string(record.get(key)):
                    problems.append(
                        (key, "must be a non-empty string (a preference pair needs both chosen and rejected)")
                    )
                else:
                    self.response_chars.add(len(record[key]))
        elif has_responses:
            self.kinds["responses"] += 1
            self._check_responses(record["responses"], problems)
        else:
            problems.append(("chosen", "a record needs chosen + rejected, or a list of scored responses"))
        _check_optional(record, _PREFERENCE_OPTIONAL, self.optional_fields, problems)

    def _check_responses(self, responses: Any, problems: list[Problem]) -> None:
        if not isinstance(responses, list) or len(responses) < 2:
            problems.append(("responses", "must be a list of at least two {content, score} objects"))
            return
        self.responses_per_prompt.add(len(responses))
        for index, response in enumerate(responses):
            if not isinstance(response, dict):
                problems.append(
                    (f"responses[{index}]", f"must be an object with content and score, got {_type_name(response)}")
                )
                continue
            content, score = response.get("content"), response.get("score")
            if not _non_empty_string(content):
                problems.append((f"responses[{index}].content", "must be a non-empty string"))
            else:
                self.response_chars.add(len(content))
            if not isinstance(score, int | float) or isinstance(score, bool):
                problems.append((f"responses[{index}].score", f"must be a number, got {_type_name(score)}"))

    def stats(self) -> dict[str, Any]:
        return {
            "kinds": dict(self.kinds),
            "prompt_chars": self.prompt_chars.as_dict(),
            "response_chars": self.response_chars.as_dict(),
            "responses_per_prompt": self.responses_per_prompt.as_dict(),
            "optional_fields": dict(self.optional_fields),
        }


def _control_character_problem(text: str) -> str | None:
    found = _CONTROL_CHARACTERS.search(text)
    if found is None:
        return None
    return f"holds control character U+{ord(found.group()):04X} at character {found.start() + 1}; clean the text"


class PretrainRecords:
    """pretrain: a non-empty, cleaned `text`."""

    def __init__(self) -> None:
        self.text_chars = Summary()
        self.optional_fields: Counter[str] = Counter()

    def check(self, record: dict, problems: list[Problem]) -> None:
        text = record.get("text")
        if not _non_empty_string(text):
            problems.append(("text", "is required: a non-empty string"))
        else:
            self.text_chars.add(len(text))
            if problem := _control_character_problem(text):
                problems.append(("text", problem))
        if len(record) > 1:
            _check_optional(record, _PRETRAIN_OPTIONAL, self.optional_fields, problems)

    def stats(self) -> dict[str, Any]:
        return {"text_chars": self.text_chars.as_dict(), "optional_fields": dict(self.optional_fields)}


def record_checker(task_type: str) -> ConversationRecords | PreferenceRecords | PretrainRecords:
    if task_type == TaskType.SFT:
        return ConversationRecords(lora=False)
    if task_type == TaskType.LORA:
        return ConversationRecords(lora=True)
    if task_type == TaskType.RL:
        return PreferenceRecords()
    if task_type == TaskType.PRETRAIN:
        return PretrainRecords()
    raise ValueError(f"unknown task type {task_type!r}")


@dataclass
class ValidationReport:
    records: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    bytes_read: int = 0

    @property
    def is_valid(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int, field_name: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"line": line, "field": field_name, "reason": reason})


def is_plain_text_corpus(path: Path, task_type: str) -> bool:
    """Pretraining also takes plain `.txt`: one document (or paragraph) per line."""
    return task_type == TaskType.PRETRAIN and path.suffix.lower() == ".txt"


def _decode_problem(raw: bytes) -> str | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
    return None


def _parse_json_line(raw: bytes) -> tuple[Any, str | None]:
    """The JSON value of one line, or why there is none.

    orjson parses (fast, strict: UTF-8, no NaN); when it refuses, the reason is worked
    out the slow way, so the user reads which byte or column is wrong.
    """
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as fast_error:
        if problem := _decode_problem(raw):
            return None, problem
        text = raw.decode("utf-8").rstrip("\r\n")
        if not text or text.isspace():
            return None, "blank line; JSON Lines holds one JSON object on every line"
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            hint = "; the file looks like one JSON array, convert it to JSON Lines" if text[:1] == "[" else ""
            return None, f"not valid JSON: {exc.msg} at column {exc.colno}{hint}"
        return None, f"not valid JSON: {fast_error}"


def validate_file(path: Path, task_type: str, *, progress: Callable[[int], None] | None = None) -> ValidationReport:
    """Check every line of `path` against the record rules of `task_type`."""
    report = ValidationReport()
    checker = record_checker(task_type)
    plain_text = is_plain_text_corpus(path, task_type)
    problems: list[Problem] = []
    next_progress = PROGRESS_EVERY_BYTES
    with open(path, "rb") as source:
        for number, raw in enumerate(source, start=1):
            report.bytes_read += len(raw)
            if progress is not None and report.bytes_read >= next_progress:
                progress(report.bytes_read)
                next_progress = report.bytes_read + PROGRESS_EVERY_BYTES
            if number == 1 and raw.startswith(UTF8_BOM):
                report.add_error(1, "", "the file starts with a UTF-8 byte order mark (BOM); save it without one")
                raw = raw[len(UTF8_BOM) :]
            if plain_text:
                if problem := _decode_problem(raw):
                    report.add_error(number, "", problem)
                    continue
                text = raw.decode("utf-8").rstrip("\r\n")
                if not text or text.isspace():
                    continue  # paragraphs of a plain-text corpus are separated by blank lines
                record: Any = {"text": text}
            else:
                record, problem = _parse_json_line(raw)
                if problem:
                    report.add_error(number, "", problem)
                    continue
                if not isinstance(record, dict):
                    report.add_error(number, "", f"each line must be a JSON object, got {_type_name(record)}")
                    continue
            report.records += 1
            checker.check(record, problems)
            if problems:
                for field_name, reason in problems:
                    report.add_error(number, field_name, reason)
                problems.clear()
    if report.records == 0 and report.error_count == 0:
        report.add_error(0, "", "the file holds no records")
    report.stats = {"records": report.records, **checker.stats()}
    return report


def read_records(path: Path, task_type: str, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """Lines offset+1 .. offset+limit, parsed: {line, record} or {line, error}."""
    plain_text = is_plain_text_corpus(path, task_type)
    items: list[dict[str, Any]] = []
    with open(path, "rb") as source:
        for number, raw in enumerate(source, start=1):
            if number <= offset:
                continue
            if len(items) >= limit:
                break
            line = raw[len(UTF8_BOM) :] if number == 1 and raw.startswith(UTF8_BOM) else raw
            try:
                text = line.decode("utf-8").rstrip("\r\n")
                items.append({"line": number, "record": {"text": text} if plain_text else json.loads(text)})
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                items.append({"line": number, "record": None, "error": str(exc)})
    return items
