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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets.models import TaskType

MAX_ERRORS_KEPT = 100
PROGRESS_EVERY_BYTES = 16 * 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
# Control characters a cleaned pretraining text must not hold (\t and \n are fine).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONVERSATION_ROLES = ("system", "user", "assistant", "tool")
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
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)

    def as_dict(self) -> dict[str, Any]:
        mean = round(self.total / self.count, 2) if self.count else None
        return {"count": self.count, "min": self.min, "max": self.max, "mean": mean, "total": self.total}


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _optional(record: dict, key: str, check: Callable[[Any], bool], expected: str) -> Iterator[Problem]:
    if key in record and not check(record[key]):
        yield key, f"must be {expected}, got {_type_name(record[key])}"


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(_non_empty_string(item) for item in value)


class ConversationRecords:
    """sft and lora: `messages`, a list of {role, content} turns in a sensible order."""

    def __init__(self, *, lora: bool) -> None:
        self.lora = lora
        self.roles: Counter[str] = Counter()
        self.turns = Summary()
        self.content_chars: dict[str, Summary] = {}
        self.optional_fields: Counter[str] = Counter()
        self.ranks = Summary()
        self.target_modules: Counter[str] = Counter()

    def check(self, record: dict) -> Iterator[Problem]:
        messages = record.get("messages")
        if messages is None:
            yield "messages", "is required: a list of {role, content} turns"
        elif not isinstance(messages, list):
            yield "messages", f"must be a list of {{role, content}} turns, got {_type_name(messages)}"
        else:
            yield from self._check_turns(messages)
        for key in ("conversation_id", "system_prompt", "input_template", "task_tags", "metadata"):
            if key in record:
                self.optional_fields[key] += 1
        yield from _optional(record, "conversation_id", lambda v: isinstance(v, str | int), "a string")
        yield from _optional(record, "system_prompt", lambda v: isinstance(v, str), "a string")
        yield from _optional(record, "input_template", lambda v: isinstance(v, str), "a string")
        yield from _optional(record, "task_tags", _string_list, "a list of strings")
        yield from _optional(record, "metadata", lambda v: isinstance(v, dict), "an object")
        if self.lora:
            yield from self._check_lora_overrides(record)

    def _check_turns(self, messages: list) -> Iterator[Problem]:
        previous: str | None = None
        seen: set[str] = set()
        for index, turn in enumerate(messages):
            where = f"messages[{index}]"
            if not isinstance(turn, dict):
                yield where, f"must be an object with role and content, got {_type_name(turn)}"
                previous = None
                continue
            role, content = turn.get("role"), turn.get("content")
            if role not in CONVERSATION_ROLES:
                yield f"{where}.role", f"must be one of {', '.join(CONVERSATION_ROLES)}, got {role!r}"
            elif role not in _NEXT_ROLES[previous]:
                after = f"after {previous!r}" if previous else "to open the conversation"
                yield f"{where}.role", f"{role!r} is out of order {after}"
            if not _non_empty_string(content):
                yield f"{where}.content", "must be a non-empty string"
            if isinstance(role, str) and role in CONVERSATION_ROLES:
                seen.add(role)
                self.roles[role] += 1
                if isinstance(content, str):
                    self.content_chars.setdefault(role, Summary()).add(len(content))
            previous = role if role in CONVERSATION_ROLES else None
        self.turns.add(len(messages))
        for needed in ("user", "assistant"):
            if needed not in seen:
                yield "messages", f"needs at least one {needed} turn"

    def _check_lora_overrides(self, record: dict) -> Iterator[Problem]:
        if "target_modules" in record:
            modules = record["target_modules"]
            if _string_list(modules) and modules:
                self.target_modules.update(modules)
            else:
                yield "target_modules", "must be a non-empty list of module names"
        if "rank" in record:
            rank = record["rank"]
            if isinstance(rank, int) and not isinstance(rank, bool) and rank > 0:
                self.ranks.add(rank)
            else:
                yield "rank", f"must be a positive integer, got {rank!r}"

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = {
            "roles": dict(self.roles),
            "turns": self.turns.as_dict(),
            "content_chars": {role: summary.as_dict() for role, summary in sorted(self.content_chars.items())},
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

    def check(self, record: dict) -> Iterator[Problem]:
        prompt = record.get("prompt")
        if not _non_empty_string(prompt):
            yield "prompt", "is required: a non-empty string"
        else:
            self.prompt_chars.add(len(prompt))
        has_pair = "chosen" in record or "rejected" in record
        has_responses = "responses" in record
        if has_pair and has_responses:
            yield "responses", "give either chosen + rejected or responses, not both"
        elif has_pair:
            self.kinds["pair"] += 1
            for key in ("chosen", "rejected"):
                if not _non_empty_string(record.get(key)):
                    yield key, "must be a non-empty string (a preference pair needs both chosen and rejected)"
                else:
                    self.response_chars.add(len(record[key]))
        elif has_responses:
            self.kinds["responses"] += 1
            yield from self._check_responses(record["responses"])
        else:
            yield "chosen", "a record needs chosen + rejected, or a list of scored responses"
        yield from _optional(record, "metadata", lambda v: isinstance(v, dict), "an object")

    def _check_responses(self, responses: Any) -> Iterator[Problem]:
        if not isinstance(responses, list) or len(responses) < 2:
            yield "responses", "must be a list of at least two {content, score} objects"
            return
        self.responses_per_prompt.add(len(responses))
        for index, response in enumerate(responses):
            where = f"responses[{index}]"
            if not isinstance(response, dict):
                yield where, f"must be an object with content and score, got {_type_name(response)}"
                continue
            content, score = response.get("content"), response.get("score")
            if not _non_empty_string(content):
                yield f"{where}.content", "must be a non-empty string"
            else:
                self.response_chars.add(len(content))
            if not isinstance(score, int | float) or isinstance(score, bool):
                yield f"{where}.score", f"must be a number, got {_type_name(score)}"

    def stats(self) -> dict[str, Any]:
        return {
            "kinds": dict(self.kinds),
            "prompt_chars": self.prompt_chars.as_dict(),
            "response_chars": self.response_chars.as_dict(),
            "responses_per_prompt": self.responses_per_prompt.as_dict(),
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

    def check(self, record: dict) -> Iterator[Problem]:
        text = record.get("text")
        if not _non_empty_string(text):
            yield "text", "is required: a non-empty string"
        else:
            self.text_chars.add(len(text))
            if problem := _control_character_problem(text):
                yield "text", problem
        for key in ("doc_id", "metadata"):
            if key in record:
                self.optional_fields[key] += 1
        yield from _optional(record, "doc_id", lambda v: isinstance(v, str | int), "a string")
        yield from _optional(record, "metadata", lambda v: isinstance(v, dict), "an object")

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


def _decoded_lines(path: Path, report: ValidationReport, progress: Callable[[int], None] | None):
    """Yield (line number, text) for each line that is valid UTF-8; report the rest."""
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
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                report.add_error(number, "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})")
                continue
            yield number, text.rstrip("\r\n")


def validate_file(path: Path, task_type: str, *, progress: Callable[[int], None] | None = None) -> ValidationReport:
    """Check every line of `path` against the record rules of `task_type`."""
    report = ValidationReport()
    checker = record_checker(task_type)
    plain_text = is_plain_text_corpus(path, task_type)
    decoder = json.JSONDecoder()
    for number, text in _decoded_lines(path, report, progress):
        if plain_text:
            record: Any = {"text": text}
            if not text.strip():
                continue
        else:
            if not text.strip():
                report.add_error(number, "", "blank line; JSON Lines holds one JSON object on every line")
                continue
            try:
                record = decoder.decode(text)
            except json.JSONDecodeError as exc:
                hint = "; the file looks like one JSON array, convert it to JSON Lines" if text[:1] == "[" else ""
                report.add_error(number, "", f"not valid JSON: {exc.msg} at column {exc.colno}{hint}")
                continue
            if not isinstance(record, dict):
                report.add_error(number, "", f"each line must be a JSON object, got {_type_name(record)}")
                continue
        report.records += 1
        for field_name, reason in checker.check(record):
            report.add_error(number, field_name, reason)
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
