"""Reading a trainer's growing log file: new bytes from a stored offset, cut into lines.

A line ends at `\\n` *or* `\\r`: tqdm redraws its bar with `\\r`, so a terminal shows
only the last redraw while the file holds every one of them. Only complete lines
are returned (the trainer may be in the middle of writing the next one) unless the
caller says the file is final. Offsets are byte offsets, so a restarted reader
continues exactly where the last committed read stopped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# Cursor movement, colours, erase-line: what tqdm and rich write around their text.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# tqdm draws a nested bar (position ≥ 1: an evaluation bar under the training bar)
# and then moves the cursor back up.
_CURSOR_UP = "\x1b[A"

# A line longer than this is cut: a log table is not a place for a megabyte of base64.
MAX_LINE_CHARS = 16_384


@dataclass(frozen=True)
class LogChunk:
    lines: list[str]  # cleaned for display, blank ones dropped
    nested: frozenset[int]  # indexes of lines drawn below another bar (tqdm position ≥ 1)
    end_offset: int  # byte offset just after the last complete line taken
    tail: str  # the incomplete last line (a bar being drawn), for progress only
    tail_nested: bool
    at_end: bool  # nothing complete is left to read after end_offset
    start_offset: int = 0
    file_size: int = 0  # the file's size and last modification (seconds since the epoch) as read
    modified: float | None = None


def _truncated(text: str) -> str:
    return text[:MAX_LINE_CHARS] + " …[truncated]" if len(text) > MAX_LINE_CHARS else text


def split_lines(text: str) -> tuple[list[str], frozenset[int]]:
    """Lines cut on `\\n` and `\\r`, right-stripped, escapes removed, blank ones dropped."""
    if "\x00" in text:  # PostgreSQL text cannot hold NUL
        text = text.replace("\x00", "")
    if "\x1b" not in text:  # the common case, kept fast
        # str.split is several times faster than a regex split; \r ends a line too.
        lines = [line for raw in text.replace("\r", "\n").split("\n") if (line := raw.rstrip())]
        if max(map(len, lines), default=0) > MAX_LINE_CHARS:
            lines = [_truncated(line) for line in lines]
        return lines, frozenset()
    lines, nested = [], set()
    for raw in text.replace("\r", "\n").split("\n"):
        line = _truncated((_ANSI_ESCAPE.sub("", raw) if "\x1b" in raw else raw).rstrip())
        if line:
            if _CURSOR_UP in raw:
                nested.add(len(lines))
            lines.append(line)
    return lines, frozenset(nested)


def read_chunk(path: Path, offset: int, *, final: bool, max_bytes: int) -> LogChunk:
    """The complete lines of `path` from byte `offset`, reading at most `max_bytes`.

    Blank lines are dropped (tqdm writes whitespace to clear a bar before printing
    over it). With `final`, a last line without terminator counts as complete.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(max_bytes + 1)
            stat = os.fstat(handle.fileno())
    except FileNotFoundError:
        return LogChunk([], frozenset(), offset, "", False, True, start_offset=offset, file_size=offset)
    more_on_disk = len(data) > max_bytes
    data = data[:max_bytes]

    cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
    if final and not more_on_disk:
        cut = len(data)
    elif cut == 0 and more_on_disk:
        cut = len(data)  # one line longer than a whole chunk: take it as it is
    # \n and \r never occur inside a UTF-8 sequence, so decoding after the cut is safe.
    lines, nested = split_lines(data[:cut].decode("utf-8", errors="replace"))
    tail, tail_nested = split_lines(data[cut:].decode("utf-8", errors="replace"))
    return LogChunk(
        lines=lines,
        nested=nested,
        end_offset=offset + cut,
        tail=tail[-1] if tail else "",
        tail_nested=bool(tail_nested),
        at_end=not more_on_disk,
        start_offset=offset,
        file_size=max(stat.st_size, offset + len(data)),
        modified=stat.st_mtime,
    )
