"""Reading a model server's log file: by page (like run logs), by byte offset (to follow it), or its end.

Lines are split on "\\n" only (a trailing "\\r" from progress bars is dropped) and
decoded as UTF-8 with undecodable bytes replaced, so any output can be shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from llmplatform.errors import InvalidInput

TAIL_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class LogLine:
    line: int  # 1-based line number in the file
    message: str


@dataclass(frozen=True)
class LogPage:
    page: int | None
    page_size: int
    total: int  # lines in the file
    items: list[LogLine]
    next_offset: int  # byte offset after the last complete line returned: pass it as `after`


class PageOutOfRange(InvalidInput):
    """The page or offset asked for lies past the end of the log; `str()` says where it ends."""


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="replace")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return b""


def _split(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    return lines[:-1] if lines and lines[-1] == b"" else lines


def page_of(path: Path, *, page: int | None, page_size: int) -> LogPage:
    """Page `page` (from 1) of the file's lines; None means the last page, the tail."""
    data = _read(path)
    lines = _split(data)
    last_page = max(1, -(-len(lines) // page_size))
    page = last_page if page is None else page
    if page > last_page:
        raise PageOutOfRange(
            format_lazy(
                _("page {page} is past the last page ({last_page}) of {count} lines."),
                page=page,
                last_page=last_page,
                count=len(lines),
            )
        )
    start = (page - 1) * page_size
    items = [LogLine(start + index + 1, _decode(raw)) for index, raw in enumerate(lines[start : start + page_size])]
    complete = data.rfind(b"\n") + 1
    return LogPage(page=page, page_size=page_size, total=len(lines), items=items, next_offset=complete)


def after(path: Path, *, offset: int, page_size: int) -> LogPage:
    """Up to `page_size` complete lines that start at byte `offset` or later (a line still being written waits)."""
    data = _read(path)
    if offset > len(data):
        raise PageOutOfRange(
            format_lazy(_("after={offset} is past the end of the log ({count} bytes)."), offset=offset, count=len(data))
        )
    first_line = data.count(b"\n", 0, offset) + 1
    complete = _split(data[offset : data.rfind(b"\n") + 1]) if offset < len(data) else []
    items = [LogLine(first_line + index, _decode(raw)) for index, raw in enumerate(complete[:page_size])]
    next_offset = offset + sum(len(item) + 1 for item in complete[:page_size])
    return LogPage(page=None, page_size=page_size, total=len(_split(data)), items=items, next_offset=next_offset)


def last_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines, reading only the end of the file."""
    try:
        with path.open("rb") as log:
            log.seek(0, 2)
            size = log.tell()
            log.seek(max(0, size - TAIL_CHUNK_BYTES))
            chunk = log.read()
    except FileNotFoundError:
        return []
    lines = _split(chunk)
    if size > TAIL_CHUNK_BYTES and lines:
        lines = lines[1:]  # the first one is probably cut
    return [_decode(raw) for raw in lines[-count:]]
