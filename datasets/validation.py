"""Checking a data file against its task type, one line at a time.

`validate_file(path, task_type)` streams the file (never more than one line in
memory), and returns a report: how many records, the first MAX_ERRORS_KEPT errors
with line number, field and reason, how many errors in all, and per-field statistics
(roles, turns, text lengths). The record rules are those of data-formats.md.

A file bigger than one piece (PIECE_BYTES) is cut at line starts and its pieces are
checked by `processes` processes side by side; their reports add up to exactly what one
pass gives: lines numbered from the start of the file, the first errors in file order.

`check_range` checks any stretch of whole lines, so a resumable upload can be checked
while it arrives; the `state()` of its report and of its checker's tallies are JSON
that wait in the database until the rest of the file is checked and they are joined.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import re
import signal
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeGuard

import orjson

from datasets.models import TaskType
from llmplatform.sentences import MUST_BE, MUST_BE_ONE_OF, NON_EMPTY_STRING, gettext_noop

MAX_ERRORS_KEPT = 100
PROGRESS_EVERY_BYTES = 16 * 1024 * 1024
PIECE_BYTES = 32 * 1024 * 1024
# Well-formed conversations are tallied in bulk, every so many records (see ConversationRecords).
FOLD_EVERY_RECORDS = 65536
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
# Reasons are catalog templates filled in English: the report keeps them so, and the
# console shows them in the reader's language (llmplatform.sentences.translate).
REQUIRED_NON_EMPTY_STRING = gettext_noop("is required: a non-empty string")


class Summary:
    """count / min / max / mean of a number seen many times, in constant memory."""

    def __init__(self) -> None:
        self.count = 0
        self.total: int | float = 0
        self.min: int | float | None = None
        self.max: int | float | None = None

    def add(self, value: int | float) -> None:
        self.count += 1
        self.total += value
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value

    def add_many(self, values: list[int]) -> None:
        """`add` each of `values`, at C speed."""
        if values:
            self._take(len(values), sum(values), min(values), max(values))

    def merge(self, other: Summary) -> None:
        if other.min is not None and other.max is not None:  # both are set by its first value
            self._take(other.count, other.total, other.min, other.max)

    def _take(self, count: int, total: int | float, low: int | float, high: int | float) -> None:
        self.count += count
        self.total += total
        if self.min is None or low < self.min:
            self.min = low
        if self.max is None or high > self.max:
            self.max = high

    def as_dict(self) -> dict[str, Any]:
        mean = round(self.total / self.count, 2) if self.count else None
        return {"count": self.count, "min": self.min, "max": self.max, "mean": mean, "total": self.total}

    def state(self) -> list[int | float | None]:
        return [self.count, self.total, self.min, self.max]

    def load(self, state: list[int | float | None]) -> None:
        self.count, self.total, self.min, self.max = state  # type: ignore[assignment]


def _non_empty_string(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value != "" and not value.isspace()


_TYPE_NAMES = {
    dict: gettext_noop("an object"),
    list: gettext_noop("a list"),
    str: gettext_noop("a string"),
    bool: gettext_noop("a boolean"),
    type(None): "null",
}
A_NUMBER = gettext_noop("a number")
# What Python's json module says of a line it cannot parse, for the catalog (the reason quotes it).
JSON_PARSER_MESSAGES = (
    gettext_noop("Expecting value"),
    gettext_noop("Expecting property name enclosed in double quotes"),
    gettext_noop("Expecting ',' delimiter"),
    gettext_noop("Expecting ':' delimiter"),
    gettext_noop("Extra data"),
    gettext_noop("Unterminated string starting at"),
    gettext_noop("Invalid control character at"),
    gettext_noop("Invalid \\escape"),
    gettext_noop("Invalid \\uXXXX escape"),
    gettext_noop("Illegal trailing comma before end of object"),
    gettext_noop("Illegal trailing comma before end of array"),
)


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), A_NUMBER)


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(_non_empty_string(item) for item in value)


class OptionalField(NamedTuple):
    """A field a record may have. Parsed JSON has exact types (a bool is no int here)."""

    name: str
    types: tuple[type, ...]
    expected: str
    each_item: Callable[[Any], bool] | None = None  # for a list: what every item must be


_CONVERSATION_OPTIONAL = (
    OptionalField("conversation_id", (str, int), gettext_noop("a string")),
    OptionalField("system_prompt", (str,), gettext_noop("a string")),
    OptionalField("input_template", (str,), gettext_noop("a string")),
    OptionalField("task_tags", (list,), gettext_noop("a list of strings"), each_item=_non_empty_string),
    OptionalField("metadata", (dict,), gettext_noop("an object")),
)
# An instruction record as Alpaca and LLaMA-Factory's "alpaca" formatting write it (instruction and
# output required): each field and the dataset_info.json column it maps to.
ALPACA_COLUMNS = {
    "instruction": "prompt",
    "input": "query",
    "output": "response",
    "system": "system",
    "history": "history",
}
_PREFERENCE_OPTIONAL = (OptionalField("metadata", (dict,), gettext_noop("an object")),)
_PRETRAIN_OPTIONAL = (
    OptionalField("doc_id", (str, int), gettext_noop("a string")),
    OptionalField("metadata", (dict,), gettext_noop("an object")),
)


def _check_optional(
    record: dict, fields: tuple[OptionalField, ...], seen: Counter[str], problems: list[Problem]
) -> None:
    for optional in fields:
        if optional.name in record:
            seen[optional.name] += 1
            value = record[optional.name]
            if type(value) not in optional.types or (
                optional.each_item is not None and not all(map(optional.each_item, value))
            ):
                problems.append((optional.name, MUST_BE.format(expected=optional.expected, got=_type_name(value))))


class RecordTallies(ABC):
    """What every record checker shares: its tallies (Summaries, Counters, and dicts of
    Summaries) as JSON and back, so the figures of a piece checked earlier can wait in
    the database until the rest of the file is checked."""

    @abstractmethod
    def check(self, record: dict, problems: list[Problem]) -> None:
        """Count the figures of `record`; add what is wrong with it to `problems`."""

    @abstractmethod
    def merge(self, other: Self) -> None:
        """Add the figures of another piece of the same file."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """The figures as the validation report shows them."""

    def settle(self) -> None:  # noqa: B027 (a hook: only ConversationRecords sets figures aside)
        """Bring figures set aside for speed into the tallies (ConversationRecords has some)."""

    def trainer_format(self, records: int) -> dict[str, Any] | None:
        """How LLaMA-Factory reads a file of these `records` (all valid): its dataset_info.json entry
        without `file_name` (`formatting`, `columns`, `tags`, `ranking`); None when no one entry fits."""
        return None

    def state(self) -> dict[str, Any]:
        self.settle()
        saved: dict[str, Any] = {}
        for name, value in vars(self).items():
            if isinstance(value, Summary):
                saved[name] = value.state()
            elif isinstance(value, Counter):
                saved[name] = dict(value)
            elif isinstance(value, dict) and not name.startswith("_"):
                saved[name] = {key: summary.state() for key, summary in value.items()}
        return saved

    def load(self, saved: dict[str, Any]) -> None:
        """Take the tallies `state` gave, on a checker of the same kind that has none yet."""
        for name, value in saved.items():
            tally = getattr(self, name)
            if isinstance(tally, Summary):
                tally.load(value)
            elif isinstance(tally, Counter):
                tally.update(value)
            else:
                for key, summary in value.items():
                    tally[key].load(summary)


def _well_ordered(roles: tuple[Any, ...]) -> bool:
    """Would `_check_turns` find nothing to say about conversations with these roles?"""
    previous = None
    for role in roles:
        if role not in _ROLE_SET or role not in _NEXT_ROLES[previous]:
            return False
        previous = role
    return "user" in roles and "assistant" in roles


class ConversationRecords(RecordTallies):
    """sft and lora: `messages`, a list of {role, content} turns in a sensible order.

    `check` is the hot loop of a multi-GB validation, so it has a fast path: a
    conversation with nothing to report only has its content lengths set aside, grouped
    by its sequence of roles, and `_fold` adds them to the statistics every
    FOLD_EVERY_RECORDS records with C-speed min/max/sum. Anything unusual takes the
    slow path, which names each problem.
    """

    def __init__(self, *, lora: bool) -> None:
        self.lora = lora
        self.roles: Counter[str] = Counter()
        self.turns = Summary()
        self.content_chars: dict[str, Summary] = {role: Summary() for role in CONVERSATION_ROLES}
        self.optional_fields: Counter[str] = Counter()
        self.ranks = Summary()
        self.target_modules: Counter[str] = Counter()
        # Alpaca records (instruction/output) and the optional fields they use; the others have `messages`.
        self.alpaca_fields: Counter[str] = Counter()
        # Content lengths of well-formed conversations not yet in the statistics, by role sequence.
        # Keyed by the roles as the records give them, checked before a key is added.
        self._unfolded: dict[tuple[Any, ...], list[int]] = {}
        self._unfolded_records = 0

    def check(self, record: dict, problems: list[Problem]) -> None:
        messages = record.get("messages")
        if messages is None and "instruction" in record:
            self._check_alpaca(record, problems)
            return
        if not self._set_aside_well_formed(messages):
            self._check_messages(messages, problems)
        if len(record) > 1:
            _check_optional(record, _CONVERSATION_OPTIONAL, self.optional_fields, problems)
            if self.lora:
                self._check_lora_overrides(record, problems)

    def _set_aside_well_formed(self, messages: Any) -> bool:
        """The fast path: True when `messages` has nothing to report (its figures then
        wait for `_fold`); False, with nothing counted, sends it the slow way."""
        if type(messages) is not list:
            return False
        roles = []
        lengths = []
        for turn in messages:
            if type(turn) is not dict:
                return False
            content = turn.get("content")
            if type(content) is not str or not content or content.isspace():
                return False
            roles.append(turn.get("role"))
            lengths.append(len(content))
        sequence = tuple(roles)
        try:
            waiting = self._unfolded.get(sequence)
        except TypeError:  # an unhashable role: the slow path names it
            return False
        if waiting is None:
            if not _well_ordered(sequence):
                return False
            waiting = self._unfolded[sequence] = []
        waiting.extend(lengths)
        self._unfolded_records += 1
        if self._unfolded_records >= FOLD_EVERY_RECORDS:
            self._fold()
        return True

    def settle(self) -> None:
        self._fold()

    def _fold(self) -> None:
        for roles, lengths in self._unfolded.items():
            turns = len(roles)
            conversations = len(lengths) // turns
            self.turns.add_many([turns] * conversations)
            for position, role in enumerate(roles):
                self.roles[role] += conversations
                self.content_chars[role].add_many(lengths[position::turns])
        self._unfolded = {}
        self._unfolded_records = 0

    def _check_messages(self, messages: Any, problems: list[Problem]) -> None:
        if messages is None:
            problems.append(("messages", gettext_noop("is required: a list of {role, content} turns")))
        elif not isinstance(messages, list):
            problems.append(
                (
                    "messages",
                    gettext_noop("must be a list of {{role, content}} turns, got {got}").format(
                        got=_type_name(messages)
                    ),
                )
            )
        else:
            self._check_turns(messages, problems)

    def _check_turns(self, messages: list, problems: list[Problem]) -> None:
        previous: str | None = None
        has_user = has_assistant = False
        for index, turn in enumerate(messages):
            if not isinstance(turn, dict):
                problems.append(
                    (
                        f"messages[{index}]",
                        gettext_noop("must be an object with role and content, got {got}").format(got=_type_name(turn)),
                    )
                )
                previous = None
                continue
            role, content = turn.get("role"), turn.get("content")
            if not isinstance(role, str) or role not in _ROLE_SET:  # a list is no role, and unhashable
                problems.append(
                    (
                        f"messages[{index}].role",
                        MUST_BE_ONE_OF.format(choices=", ".join(CONVERSATION_ROLES), got=repr(role)),
                    )
                )
                previous = None
            else:
                if role not in _NEXT_ROLES[previous]:
                    if previous:
                        out_of_order = gettext_noop("{role!r} is out of order after {previous!r}")
                    else:
                        out_of_order = gettext_noop("{role!r} is out of order to open the conversation")
                    problems.append((f"messages[{index}].role", out_of_order.format(role=role, previous=previous)))
                has_user = has_user or role == "user"
                has_assistant = has_assistant or role == "assistant"
                self.roles[role] += 1
                if isinstance(content, str):
                    self.content_chars[role].add(len(content))
                previous = role
            if not _non_empty_string(content):
                problems.append((f"messages[{index}].content", NON_EMPTY_STRING))
        self.turns.add(len(messages))
        if not has_user:
            problems.append(("messages", gettext_noop("needs at least one user turn")))
        if not has_assistant:
            problems.append(("messages", gettext_noop("needs at least one assistant turn")))

    def _check_alpaca(self, record: dict, problems: list[Problem]) -> None:
        """An instruction record: `instruction` and `output` non-empty, `input` and `system` strings,
        `history` a list of [instruction, output] pairs of earlier turns."""
        self.alpaca_fields["records"] += 1
        for name in ("instruction", "output"):
            if not _non_empty_string(record.get(name)):
                problems.append(
                    (
                        name,
                        gettext_noop("must be a non-empty string (an instruction record has instruction and output)"),
                    )
                )
        for name in ("input", "system"):
            if name in record and not isinstance(record[name], str):
                problems.append(
                    (name, gettext_noop("must be a string, got {got}").format(got=_type_name(record[name])))
                )
        history = record.get("history")
        if "history" in record and not (
            isinstance(history, list)
            and all(isinstance(pair, list) and len(pair) == 2 and _string_list(pair) for pair in history)
        ):
            problems.append(("history", gettext_noop("must be a list of [instruction, output] pairs of strings")))
        self.alpaca_fields.update(name for name in ("input", "system", "history") if name in record)
        self.roles.update(("user", "assistant"))
        self.turns.add(2)
        for name, role in (("instruction", "user"), ("output", "assistant")):
            if isinstance(record.get(name), str):
                self.content_chars[role].add(len(record[name]))
        if self.lora:
            self._check_lora_overrides(record, problems)

    def trainer_format(self, records: int) -> dict[str, Any] | None:
        self._fold()
        alpaca = self.alpaca_fields["records"]
        if alpaca == records:
            used = ["instruction", "output", *(name for name in ALPACA_COLUMNS if self.alpaca_fields[name])]
            return {
                "formatting": "alpaca",
                "columns": {ALPACA_COLUMNS[name]: name for name in ALPACA_COLUMNS if name in used},
            }
        if alpaca:
            return None  # instruction records and conversations mixed: no one mapping reads both
        columns = {"messages": "messages"}
        if self.optional_fields["system_prompt"]:
            columns["system"] = "system_prompt"
        tags = {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        }
        if self.roles["tool"]:
            tags["observation_tag"] = "tool"
        return {"formatting": "sharegpt", "columns": columns, "tags": tags}

    def _check_lora_overrides(self, record: dict, problems: list[Problem]) -> None:
        if "target_modules" in record:
            modules = record["target_modules"]
            if _string_list(modules) and modules:
                self.target_modules.update(modules)
            else:
                problems.append(("target_modules", gettext_noop("must be a non-empty list of module names")))
        if "rank" in record:
            rank = record["rank"]
            if isinstance(rank, int) and not isinstance(rank, bool) and rank > 0:
                self.ranks.add(rank)
            else:
                problems.append(("rank", gettext_noop("must be a positive integer, got {rank!r}").format(rank=rank)))

    def merge(self, other: ConversationRecords) -> None:
        """Add the figures of another piece of the same file."""
        self._fold()
        other._fold()
        self.roles.update(other.roles)
        self.turns.merge(other.turns)
        for role, summary in self.content_chars.items():
            summary.merge(other.content_chars[role])
        self.optional_fields.update(other.optional_fields)
        self.ranks.merge(other.ranks)
        self.target_modules.update(other.target_modules)
        self.alpaca_fields.update(other.alpaca_fields)

    def stats(self) -> dict[str, Any]:
        self._fold()
        stats: dict[str, Any] = {
            "roles": {role: self.roles[role] for role in CONVERSATION_ROLES if self.roles[role]},
            "turns": self.turns.as_dict(),
            "content_chars": {role: summary.as_dict() for role, summary in self.content_chars.items() if summary.count},
            "optional_fields": dict(self.optional_fields),
        }
        if self.alpaca_fields:
            stats["instruction_records"] = dict(self.alpaca_fields)
        if self.lora:
            stats["rank"] = self.ranks.as_dict()
            stats["target_modules"] = dict(self.target_modules.most_common(20))
        return stats


class PreferenceRecords(RecordTallies):
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
            problems.append(("prompt", REQUIRED_NON_EMPTY_STRING))
        else:
            self.prompt_chars.add(len(prompt))
        has_pair = "chosen" in record or "rejected" in record
        has_responses = "responses" in record
        if has_pair and has_responses:
            problems.append(("responses", gettext_noop("give either chosen + rejected or responses, not both")))
        elif has_pair:
            self.kinds["pair"] += 1
            for key in ("chosen", "rejected"):
                if not _non_empty_string(record.get(key)):
                    problems.append(
                        (
                            key,
                            gettext_noop(
                                "must be a non-empty string (a preference pair needs both chosen and rejected)"
                            ),
                        )
                    )
                else:
                    self.response_chars.add(len(record[key]))
        elif has_responses:
            self.kinds["responses"] += 1
            self._check_responses(record["responses"], problems)
        else:
            problems.append(("chosen", gettext_noop("a record needs chosen + rejected, or a list of scored responses")))
        _check_optional(record, _PREFERENCE_OPTIONAL, self.optional_fields, problems)

    def _check_responses(self, responses: Any, problems: list[Problem]) -> None:
        if not isinstance(responses, list) or len(responses) < 2:
            problems.append(("responses", gettext_noop("must be a list of at least two {content, score} objects")))
            return
        self.responses_per_prompt.add(len(responses))
        for index, response in enumerate(responses):
            if not isinstance(response, dict):
                problems.append(
                    (
                        f"responses[{index}]",
                        gettext_noop("must be an object with content and score, got {got}").format(
                            got=_type_name(response)
                        ),
                    )
                )
                continue
            content, score = response.get("content"), response.get("score")
            if not _non_empty_string(content):
                problems.append((f"responses[{index}].content", NON_EMPTY_STRING))
            else:
                self.response_chars.add(len(content))
            if not isinstance(score, int | float) or isinstance(score, bool):
                problems.append(
                    (
                        f"responses[{index}].score",
                        gettext_noop("must be a number, got {got}").format(got=_type_name(score)),
                    )
                )

    def merge(self, other: PreferenceRecords) -> None:
        """Add the figures of another piece of the same file."""
        self.kinds.update(other.kinds)
        self.prompt_chars.merge(other.prompt_chars)
        self.response_chars.merge(other.response_chars)
        self.responses_per_prompt.merge(other.responses_per_prompt)
        self.optional_fields.update(other.optional_fields)

    def trainer_format(self, records: int) -> dict[str, Any] | None:
        if self.kinds["pair"] != records:
            return None  # scored responses: LLaMA-Factory reads preference pairs only
        columns = {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"}
        return {"formatting": "alpaca", "ranking": True, "columns": columns}

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
    return gettext_noop("holds control character U+{code:04X} at character {position}; clean the text").format(
        code=ord(found.group()), position=found.start() + 1
    )


class PretrainRecords(RecordTallies):
    """pretrain: a non-empty, cleaned `text`."""

    def __init__(self) -> None:
        self.text_chars = Summary()
        self.optional_fields: Counter[str] = Counter()

    def check(self, record: dict, problems: list[Problem]) -> None:
        text = record.get("text")
        if not _non_empty_string(text):
            problems.append(("text", REQUIRED_NON_EMPTY_STRING))
        else:
            self.text_chars.add(len(text))
            if problem := _control_character_problem(text):
                problems.append(("text", problem))
        if len(record) > 1:
            _check_optional(record, _PRETRAIN_OPTIONAL, self.optional_fields, problems)

    def merge(self, other: PretrainRecords) -> None:
        """Add the figures of another piece of the same file."""
        self.text_chars.merge(other.text_chars)
        self.optional_fields.update(other.optional_fields)

    def trainer_format(self, records: int) -> dict[str, Any] | None:
        return {"formatting": "alpaca", "columns": {"prompt": "text"}}  # the pt stage reads the prompt column

    def stats(self) -> dict[str, Any]:
        return {"text_chars": self.text_chars.as_dict(), "optional_fields": dict(self.optional_fields)}


def record_checker(task_type: str) -> RecordTallies:
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
    # Lines that are a record with no error, and lines with at least one: `records` counts
    # every line that parsed, faulty or not.
    valid_records: int = 0
    invalid_lines: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    bytes_read: int = 0
    lines: int = 0

    @property
    def is_valid(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int, field_name: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"line": line, "field": field_name, "reason": reason})

    def state(self) -> dict[str, Any]:
        return asdict(self)

    def append(self, later: ValidationReport) -> None:
        """Take in the report of the piece of the file that follows this one's lines."""
        room = MAX_ERRORS_KEPT - len(self.errors)
        self.errors += [{**error, "line": error["line"] + self.lines} for error in later.errors[:room]]
        self.error_count += later.error_count
        self.records += later.records
        self.valid_records += later.valid_records
        self.invalid_lines += later.invalid_lines
        self.bytes_read += later.bytes_read
        self.lines += later.lines


def is_plain_text_corpus(name: str, task_type: str) -> bool:
    """Pretraining also takes plain `.txt`: one document (or paragraph) per line."""
    return task_type == TaskType.PRETRAIN and name.lower().endswith(".txt")


def _decode_problem(raw: bytes) -> str | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return gettext_noop("not valid UTF-8 (byte 0x{byte:02x} at offset {offset})").format(
            byte=raw[exc.start], offset=exc.start
        )
    return None


def _json_line_record(raw: bytes) -> tuple[dict | None, str | None]:
    """The JSON object on one line, or why there is none.

    orjson parses (fast, strict: UTF-8, no NaN); when it refuses, the reason is worked
    out the slow way, so the user reads which byte or column is wrong.
    """
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as fast_error:
        return None, _json_problem(raw, fast_error)
    if type(record) is not dict:
        return None, gettext_noop("each line must be a JSON object, got {got}").format(got=_type_name(record))
    return record, None


def _json_problem(raw: bytes, fast_error: orjson.JSONDecodeError) -> str:
    if problem := _decode_problem(raw):
        return problem
    text = raw.decode("utf-8").rstrip("\r\n")
    if not text or text.isspace():
        return gettext_noop("blank line; JSON Lines holds one JSON object on every line")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        if text[:1] == "[":
            reason = gettext_noop(
                "not valid JSON: {message} at column {column}; the file looks like one JSON array, "
                "convert it to JSON Lines"
            )
        else:
            reason = gettext_noop("not valid JSON: {message} at column {column}")
        return reason.format(message=exc.msg, column=exc.colno)
    return gettext_noop("not valid JSON: {message}").format(message=fast_error)


def _text_line_record(raw: bytes) -> tuple[dict | None, str | None]:
    """A line of a plain-text corpus as a record; (None, None) for a blank line."""
    if problem := _decode_problem(raw):
        return None, problem
    text = raw.decode("utf-8").rstrip("\r\n")
    if not text or text.isspace():
        return None, None  # paragraphs of a plain-text corpus are separated by blank lines
    return {"text": text}, None


LineParser = Callable[[bytes], tuple[dict | None, str | None]]


def line_parser(name: str, task_type: str) -> LineParser:
    """How a line of the file named `name` becomes a record: (record, None), (None, why not), or
    (None, None) for a blank line of a plain-text corpus."""
    return _text_line_record if is_plain_text_corpus(name, task_type) else _json_line_record


def validate_file(
    path: Path,
    task_type: str,
    *,
    progress: Callable[[int], object] | None = None,
    processes: int = 1,
    piece_bytes: int = PIECE_BYTES,
) -> ValidationReport:
    """Check every line of `path` against the record rules of `task_type`.

    `progress` is called with the bytes checked so far, now and then. With `processes`
    above 1, a file bigger than `piece_bytes` is checked piece by piece in that many
    processes.
    """
    checked = check_range(path, task_type, progress=progress, processes=processes, piece_bytes=piece_bytes)
    return finish_report(*checked)


def check_range(
    path: Path,
    task_type: str,
    *,
    start: int = 0,
    end: int | None = None,
    progress: Callable[[int], object] | None = None,
    processes: int = 1,
    piece_bytes: int = PIECE_BYTES,
    name: str = "",
) -> tuple[ValidationReport, RecordTallies]:
    """Check the lines between bytes `start` and `end` (line starts; the end of the file
    when None): a report with lines numbered from `start`'s, and the tallies so far.

    `name` is the file's own name when `path` is another name for it (an upload still
    arriving): its suffix says whether a pretraining corpus is plain text.
    """
    end = path.stat().st_size if end is None else end
    plain_text = is_plain_text_corpus(name or path.name, task_type)
    bounds = _piece_bounds(path, start, end, piece_bytes) if processes > 1 else [start, end]
    if len(bounds) > 2:
        return _check_pieces_in_processes(path, task_type, plain_text, bounds, processes, progress)
    return _check_piece(path, task_type, plain_text, start, end, progress)


def finish_report(report: ValidationReport, checker: RecordTallies) -> ValidationReport:
    """The report of a whole file, once all its lines are in `report` and `checker`."""
    if report.records == 0 and report.error_count == 0:
        report.add_error(0, "", gettext_noop("the file holds no records"))
    report.stats = {
        "records": report.records,
        "valid_records": report.valid_records,
        "invalid_lines": report.invalid_lines,
        **checker.stats(),
    }
    trainer_format = checker.trainer_format(report.records) if report.is_valid else None
    if trainer_format is not None:
        report.stats["llamafactory"] = trainer_format
    return report


def complete_lines_end(path: Path, start: int, end: int) -> int:
    """Where the last whole line between `start` (a line start) and `end` stops: just
    past its newline; `start` when no line is complete yet."""
    with open(path, "rb") as source:
        position = end
        while position > start:
            block_start = max(start, position - 64 * 1024)
            source.seek(block_start)
            newline = source.read(position - block_start).rfind(b"\n")
            if newline >= 0:
                return block_start + newline + 1
            position = block_start
    return start


def _check_piece(
    path: Path,
    task_type: str,
    plain_text: bool,
    start: int,
    end: int,
    progress: Callable[[int], object] | None = None,
) -> tuple[ValidationReport, RecordTallies]:
    """Check the lines between bytes `start` and `end` (both line starts), numbered from 1."""
    report = ValidationReport()
    checker = record_checker(task_type)
    line_record = _text_line_record if plain_text else _json_line_record
    problems: list[Problem] = []
    # Locals, not report attributes, in this loop: it runs once per line of a multi-GB file.
    length = end - start
    number = bytes_read = records = valid_records = invalid_lines = 0
    next_progress = PROGRESS_EVERY_BYTES
    with open(path, "rb") as source:
        source.seek(start)
        for raw in source:
            if bytes_read >= length:
                break
            number += 1
            bytes_read += len(raw)
            if bytes_read >= next_progress and progress is not None:
                progress(bytes_read)
                next_progress = bytes_read + PROGRESS_EVERY_BYTES
            if number == 1 and start == 0 and raw.startswith(UTF8_BOM):
                report.add_error(
                    1, "", gettext_noop("the file starts with a UTF-8 byte order mark (BOM); save it without one")
                )
                raw = raw[len(UTF8_BOM) :]
            record, problem = line_record(raw)
            if problem:
                report.add_error(number, "", problem)
                invalid_lines += 1
                continue
            if record is None:
                continue
            records += 1
            checker.check(record, problems)
            if problems:
                invalid_lines += 1
                for field_name, reason in problems:
                    report.add_error(number, field_name, reason)
                problems.clear()
            else:
                valid_records += 1
    report.lines, report.bytes_read, report.records = number, bytes_read, records
    report.valid_records, report.invalid_lines = valid_records, invalid_lines
    return report, checker


def _piece_bounds(path: Path, start: int, end: int, piece_bytes: int) -> list[int]:
    """`start`, then the first line start at or after every `piece_bytes` (counted from
    the previous one), then `end`: the bounds of the pieces to check side by side."""
    bounds = [start]
    with open(path, "rb") as source:
        while (target := bounds[-1] + piece_bytes) < end:
            source.seek(target - 1)  # the byte before: a newline there makes `target` a line start
            position = target - 1
            while block := source.read(64 * 1024):
                newline = block.find(b"\n")
                if newline >= 0:
                    position += newline + 1
                    break
                position += len(block)
            if position >= end:
                break
            bounds.append(position)
    bounds.append(end)
    return bounds


def _check_pieces_in_processes(
    path: Path,
    task_type: str,
    plain_text: bool,
    bounds: list[int],
    processes: int,
    progress: Callable[[int], object] | None,
) -> tuple[ValidationReport, RecordTallies]:
    """The pieces between `bounds`, checked by a pool of forked processes and added up in file order."""
    report, checker = ValidationReport(), record_checker(task_type)
    # fork: the pool runs this module's code as loaded, without setting Django up again.
    context = multiprocessing.get_context("fork")
    workers = min(processes, len(bounds) - 1)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_end_with_parent) as pool:
        pieces = pool.map(_check_piece, repeat(path), repeat(task_type), repeat(plain_text), bounds[:-1], bounds[1:])
        for piece_report, piece_checker in pieces:
            report.append(piece_report)
            checker.merge(piece_checker)
            if progress is not None:
                progress(report.bytes_read)
    return report, checker


def _end_with_parent() -> None:
    """A pool process dies with the process that forked it, even when that one is killed
    (a django-q2 worker past its timeout); otherwise it would wait for work forever."""
    pr_set_pdeathsig = 1  # <sys/prctl.h>
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


PREVIEW_LINE_CHARS = 2000


def read_records(path: Path, task_type: str, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """Lines offset+1 .. offset+limit: {line, record} or, for a line that is not a record,
    {line, record: None, text, error} with the line as written (cut at PREVIEW_LINE_CHARS)
    and the same reason validation gives."""
    line_record = line_parser(path.name, task_type)
    items: list[dict[str, Any]] = []
    with open(path, "rb") as source:
        for number, raw in enumerate(source, start=1):
            if number <= offset:
                continue
            if len(items) >= limit:
                break
            line = raw[len(UTF8_BOM) :] if number == 1 and raw.startswith(UTF8_BOM) else raw
            record, problem = line_record(line)
            if problem:
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")[:PREVIEW_LINE_CHARS]
                items.append({"line": number, "record": None, "text": text, "error": problem})
            else:
                items.append({"line": number, "record": record if record is not None else {"text": ""}})
    return items
