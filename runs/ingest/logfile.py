"""Reading a trainer's growing log file: new bytes from a stored offset, cut into lines.

A line ends at `\\n` *or* `\\r`: tqdm redraws its bar with `\\r`, so a terminal shows
only the last redraw while the file holds every one of them. Only complete lines
are returned (the trainer may be in the middle of writing the next one) unless the
caller says the file is final. Offsets are byte offsets, so a restarted reader
continues exactly where the last committed read stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Cursor movement, colours, erase-line: what tqdm and rich write around their text.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# tqdm draws a nested bar (position ≥ 1: an evaluation bar under the training bar)
# and then moves the cursor back up.
_CURSOR_UP = "\x1b[A"
_TERMINATOR = re.compile(rb"[\r\n]")

# A line longer than this is cut: a log table is not a place for a megabyte of base64.
MAX_LINE_CHARS = 16_384


@dataclass(frozen=True, slots=True)
class Segment:
    """One line of the log, cleaned for display."""

    text: str
    nested: bool = False  # drawn below another progress bar (tqdm position ≥ 1)


@dataclass(frozen=True)
class LogChunk:
    segments: list[Segment]
    end_offset: int  # byte offset just after the last complete line taken
    tail: Segment | None  # the incomplete last line (a bar being drawn), for progress only
    at_end: bool  # nothing complete is left to read after end_offset


def clean(raw: bytes) -> Segment | None:
    """Decoded, escape-free, right-stripped text; None for a blank line."""
    text = raw.decode("utf-8", errors="replace")
    nested = False
    if "\x1b" in text:
        nested = _CURSOR_UP in text
        text = _ANSI_ESCAPE.sub("", text)
    if "\x00" in text:  # PostgreSQL text cannot hold NUL
        text = text.replace("\x00", "")
    text = text.rstrip()
    if not text:
        return None
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS] + " …[truncated]"
    return Segment(text, nested)


def read_chunk(path: Path, offset: int, *, final: bool, max_bytes: int) -> LogChunk:
    """The complete lines of `path` from byte `offset`, reading at most `max_bytes`.

    Blank lines are dropped (tqdm writes whitespace to clear a bar before printing
    over it). With `final`, a last line without terminator counts as complete.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return LogChunk([], offset, None, True)
    more_on_disk = len(data) > max_bytes
    data = data[:max_bytes]

    cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
    if final and not more_on_disk:
        cut = len(data)
    elif cut == 0 and more_on_disk:
        cut = len(data)  # one line longer than a whole chunk: take it as it is
    body, rest = data[:cut], data[cut:]

    segments = []
    for raw in _TERMINATOR.split(body):
        segment = clean(raw)
        if segment is not None:
            segments.append(segment)
    return LogChunk(
        segments=segments,
        end_offset=offset + cut,
        tail=clean(rest),
        at_end=not more_on_disk,
    )
