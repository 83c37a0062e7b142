"""Token lengths of a dataset file's records, with a model's own tokenizer.

`measure(path, task_type, tokenizer)` streams the file (a batch of records in memory at a
time) and counts, for each field a trainer reads (a conversation's prompt and response, a
preference pair's prompt, chosen and rejected, a corpus' text) and for the whole sequence a
trainer cuts at `cutoff_len` (`total`), how many records hold how many tokens. Texts are
tokenized in batches by the `tokenizers` library, whose Rust code uses every core; chat
template tokens are not counted, as they depend on the template a run picks.

The counts are exact up to MAX_COUNTED_TOKENS (longer records are counted as one more),
so a launch can check any `cutoff_len` against them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from datasets.models import MAX_COUNTED_TOKENS, TOTAL_FIELD, TaskType
from datasets.validation import PROGRESS_EVERY_BYTES, line_parser

TOKENIZER_FILE = "tokenizer.json"
# Records tokenized together: enough for the tokenizer's threads, few enough to bound memory (a token's
# encoding takes some 40 bytes until its batch is counted).
BATCH_RECORDS = 4096
BATCH_CHARS = 4 * 1024 * 1024
PROMPT, RESPONSE = "prompt", "response"

Texts = list[tuple[str, str]]  # (field, text) of one record


def _conversation_texts(record: dict[str, Any]) -> Texts:
    """A conversation's turns (or an instruction record's columns): what the model answers is the response."""
    texts: Texts = []
    if isinstance(system := record.get("system_prompt"), str):
        texts.append((PROMPT, system))
    messages = record.get("messages")
    if isinstance(messages, list):
        for turn in messages:
            if isinstance(turn, dict) and isinstance(content := turn.get("content"), str):
                texts.append((RESPONSE if turn.get("role") == "assistant" else PROMPT, content))
        return texts
    for name in ("system", "instruction", "input"):
        if isinstance(value := record.get(name), str) and value:
            texts.append((PROMPT, value))
    for pair in record.get("history") or []:
        if isinstance(pair, list) and len(pair) == 2:
            texts += [(PROMPT, str(pair[0])), (RESPONSE, str(pair[1]))]
    if isinstance(output := record.get("output"), str):
        texts.append((RESPONSE, output))
    return texts


def _preference_texts(record: dict[str, Any]) -> Texts:
    texts: Texts = [(PROMPT, str(record.get("prompt", "")))]
    for name in ("chosen", "rejected"):
        if isinstance(value := record.get(name), str):
            texts.append((name, value))
    for response in record.get("responses") or []:
        if isinstance(response, dict) and isinstance(content := response.get("content"), str):
            texts.append((RESPONSE, content))
    return texts


def _pretrain_texts(record: dict[str, Any]) -> Texts:
    return [("text", str(record.get("text", "")))]


def _sum_of_all(tokens: list[tuple[str, int]]) -> int:
    return sum(count for _, count in tokens)


def _prompt_and_longest_answer(tokens: list[tuple[str, int]]) -> int:
    """A preference record is trained as prompt + chosen and prompt + rejected: the longer one is cut first."""
    prompt = sum(count for name, count in tokens if name == PROMPT)
    return prompt + max((count for name, count in tokens if name != PROMPT), default=0)


@dataclass(frozen=True)
class RecordShape:
    texts: Callable[[dict[str, Any]], Texts]
    total: Callable[[list[tuple[str, int]]], int]


def record_shape(task_type: str) -> RecordShape:
    if task_type in (TaskType.SFT, TaskType.LORA):
        return RecordShape(_conversation_texts, _sum_of_all)
    if task_type == TaskType.RL:
        return RecordShape(_preference_texts, _prompt_and_longest_answer)
    if task_type == TaskType.PRETRAIN:
        return RecordShape(_pretrain_texts, _sum_of_all)
    raise ValueError(f"unknown task type {task_type!r}")


def tokenizer_file(folder: Path) -> Path | None:
    candidate = folder / TOKENIZER_FILE
    return candidate if candidate.is_file() else None


@lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def tokenizer_sha256(path: Path) -> str:
    """The tokenizer file's SHA-256, read again only when its size or modification time changes."""
    status = path.stat()
    return _sha256_of(str(path), status.st_size, status.st_mtime_ns)


def load_tokenizer(path: Path) -> Tokenizer:
    """The tokenizer as saved, without the truncation or padding it may carry: every token counts."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@dataclass
class Measured:
    records: int
    lengths: dict[str, dict[str, int]]


def _batches(path: Path, task_type: str, progress: Callable[[int], object] | None) -> Iterator[list[dict[str, Any]]]:
    parse = line_parser(path.name, task_type)
    batch: list[dict[str, Any]] = []
    chars = bytes_read = 0
    next_progress = PROGRESS_EVERY_BYTES
    with open(path, "rb") as source:
        for raw in source:
            bytes_read += len(raw)
            record, _problem = parse(raw)
            if record is not None:
                batch.append(record)
                chars += len(raw)
            if len(batch) >= BATCH_RECORDS or chars >= BATCH_CHARS:
                yield batch
                batch, chars = [], 0
            if progress is not None and bytes_read >= next_progress:
                progress(bytes_read)
                next_progress = bytes_read + PROGRESS_EVERY_BYTES
    if batch:
        yield batch


def measure(
    path: Path, task_type: str, tokenizer: Tokenizer, *, progress: Callable[[int], object] | None = None
) -> Measured:
    """Token counts per field and in all of every record of a validated file (lines that are no record skipped)."""
    shape = record_shape(task_type)
    counters: dict[str, Counter[int]] = {}
    records = 0
    for batch in _batches(path, task_type, progress):
        per_record = [shape.texts(record) for record in batch]
        encodings = tokenizer.encode_batch_fast(
            [text for texts in per_record for _, text in texts], add_special_tokens=False
        )
        position = 0
        totals = []
        for texts in per_record:
            tokens = [(name, len(encodings[position + index])) for index, (name, _) in enumerate(texts)]
            position += len(texts)
            by_field: dict[str, int] = {}
            for name, count in tokens:
                by_field[name] = by_field.get(name, 0) + count
            for name, count in by_field.items():
                counters.setdefault(name, Counter())[min(count, MAX_COUNTED_TOKENS + 1)] += 1
            totals.append(min(shape.total(tokens), MAX_COUNTED_TOKENS + 1))
        counters.setdefault(TOTAL_FIELD, Counter()).update(totals)
        records += len(batch)
    lengths = {
        name: {str(length): count for length, count in sorted(counter.items())} for name, counter in counters.items()
    }
    return Measured(records=records, lengths=lengths)


# --- reading the counts ---------------------------------------------------------


def summary(counts: dict[str, int]) -> dict[str, Any]:
    """count, min, max, mean and the 50th, 90th and 99th percentile of one field's lengths."""
    pairs = sorted((int(length), count) for length, count in counts.items())
    records = sum(count for _, count in pairs)
    if not records:
        return {"count": 0, "min": None, "max": None, "mean": None, "p50": None, "p90": None, "p99": None}
    figures: dict[str, Any] = {
        "count": records,
        "min": pairs[0][0],
        "max": pairs[-1][0],
        "mean": round(sum(length * count for length, count in pairs) / records, 1),
    }
    for name, share in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        seen = 0
        for length, count in pairs:
            seen += count
            if seen >= share * records:
                figures[name] = length
                break
    return figures


@dataclass(frozen=True)
class Bucket:
    low: int  # inclusive
    high: int  # inclusive
    count: int


def histogram(counts: dict[str, int]) -> list[Bucket]:
    """Records per power-of-two range of lengths (0, 1, 2–3, 4–7, ... 512–1023, ...), from the shortest
    to the longest range that holds any: a `cutoff_len` of a power of two falls on a bucket's edge."""
    if not counts:
        return []
    tallies: Counter[int] = Counter()
    for length, count in counts.items():
        tallies[int(length).bit_length()] += count
    return [
        Bucket(low=(1 << bits) >> 1, high=(1 << bits) - 1, count=tallies[bits])
        for bits in range(min(tallies), max(tallies) + 1)
    ]
