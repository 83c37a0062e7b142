"""Scrubbing a whole file, streamed line by line, never held in memory.

JSON Lines: every string value of every record (keys untouched). Plain text: every
line. A line that is not valid UTF-8 is decoded with U+FFFD in place of the bad bytes,
scrubbed like the rest and reported with its line number; a JSONL line that is not
JSON is scrubbed as plain text and reported. Nothing from the source reaches the
output without going through the recognisers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deid.engine import Deidentifier

JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
MAX_REPORTED_ERRORS = 100
PROGRESS_EVERY_BYTES = 1024 * 1024


@dataclass
class FileReport:
    lines: int = 0
    bytes_read: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # replacements per entity type
    error_count: int = 0
    errors: list[dict] = field(default_factory=list)  # the first ones: {"line", "reason"}

    def add_error(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "reason": reason})


def is_json_lines(path: Path | str) -> bool:
    return str(path).lower().endswith(JSON_SUFFIXES)


def _split_ending(line: str) -> tuple[str, str]:
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


def deidentify_file(
    *,
    source: Path,
    destination: Path,
    deidentifier: Deidentifier,
    json_lines: bool | None = None,
    progress: Callable[[int], object] | None = None,
) -> FileReport:
    """Write the scrubbed copy of `source` to `destination`; `progress(bytes_read)` is
    called about every megabyte. Counts are this file's only."""
    if json_lines is None:
        json_lines = is_json_lines(source)
    report = FileReport()
    counts_before = dict(deidentifier.counts)
    next_progress = PROGRESS_EVERY_BYTES
    with open(source, "rb") as reader, open(destination, "w", encoding="utf-8", newline="") as writer:
        for number, raw in enumerate(reader, start=1):
            report.lines = number
            report.bytes_read += len(raw)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = raw.decode("utf-8", errors="replace")
                report.add_error(number, f"invalid UTF-8 at byte {exc.start}; undecodable bytes became U+FFFD")
            content, ending = _split_ending(line)
            if json_lines and content.strip():
                try:
                    document = json.loads(content)
                except (ValueError, RecursionError):
                    report.add_error(number, "not a JSON document; scrubbed as plain text")
                    content = deidentifier.deidentify(content)[0]
                else:
                    scrubbed, found = deidentifier.deidentify_json(document)
                    if found:
                        content = json.dumps(scrubbed, ensure_ascii=False)
            elif content:
                content = deidentifier.deidentify(content)[0]
            writer.write(content + ending)
            if progress is not None and report.bytes_read >= next_progress:
                progress(report.bytes_read)
                next_progress = report.bytes_read + PROGRESS_EVERY_BYTES
    report.counts = {
        entity_type: count - counts_before.get(entity_type, 0)
        for entity_type, count in deidentifier.counts.items()
        if count != counts_before.get(entity_type, 0)
    }
    if progress is not None:
        progress(report.bytes_read)
    return report
