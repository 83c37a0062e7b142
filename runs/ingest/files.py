"""Reading the files a trainer keeps rewriting or appending to, without re-reading old parts.

Positions live in plain dicts (parts of `Run.ingest_state`), so they are saved in
the same transaction as what was read from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

# Per call; a trainer's JSON-lines files grow by kilobytes, this only bounds a catch-up.
MAX_JSONL_BYTES = 16 * 1024 * 1024


def tail_jsonl(path: Path, position: dict[str, Any]) -> list[dict[str, Any]]:
    """The complete records appended to `path` since `position["offset"]` (moved past them).

    A file that shrank was rewritten: it is read again from the start (points are
    upserts, so reading a record twice changes nothing). Unparseable lines are skipped.
    """
    offset = int(position.get("offset", 0))
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return []
    if size < offset:
        offset = 0
    if size == offset:
        return []
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(MAX_JSONL_BYTES)
    cut = data.rfind(b"\n") + 1
    records = []
    for raw in data[:cut].splitlines():
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            try:  # what orjson refuses and Python writes: NaN, Infinity (points skipped later, not the record)
                record = json.loads(raw)
            except ValueError:
                continue
        if isinstance(record, dict):
            records.append(record)
    position["offset"] = offset + cut
    return records


def read_json_if_changed(path: Path, seen: dict[str, list[int]]) -> dict[str, Any] | None:
    """`path` parsed, if it changed (mtime, size) since the last successful read; else None.

    A file caught half-written does not parse and is not marked as read: the next
    call tries again.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    signature = [stat.st_mtime_ns, stat.st_size]
    if seen.get(str(path)) == signature:
        return None
    try:
        parsed = json.loads(path.read_bytes())
    except (ValueError, OSError):
        return None
    if not isinstance(parsed, dict):
        return None
    seen[str(path)] = signature
    return parsed
