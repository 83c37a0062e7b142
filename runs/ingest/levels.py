"""The level of a log line, from the prefixes trainers and Python's logging print.

Recognised: `INFO:root:…` (logging's default), `[INFO|trainer.py:123] …` and
`[WARNING|2025-01-01 12:00:00] …` (transformers, LLaMA-Factory), `… - WARNING - …`
and `2025-01-01 12:00:00,123 ERROR …` (common logging formats), `file.py:12: UserWarning:`
(the warnings module), torch's `[rank0]:` prefix, and Python tracebacks: every
line from `Traceback (most recent call last):` to the exception line is an ERROR.
Anything else is INFO.
"""

from __future__ import annotations

import re

from runs.models import LogLevel

# The values, plain `str`s: the database driver binds an exact `str` faster than an enum member,
# once per log line.
_DEBUG, _INFO, _WARNING, _ERROR = (
    LogLevel.DEBUG.value,
    LogLevel.INFO.value,
    LogLevel.WARNING.value,
    LogLevel.ERROR.value,
)
_NAMES = {
    "DEBUG": _DEBUG,
    "INFO": _INFO,
    "WARN": _WARNING,
    "WARNING": _WARNING,
    "ERROR": _ERROR,
    "CRITICAL": _ERROR,
    "FATAL": _ERROR,
}
_LEVEL = r"(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)"
_LEADING_LEVEL = re.compile(rf"\[?{_LEVEL}[\]|:\s]")  # INFO:root:…  [INFO|…]  WARNING: …  ERROR …
_PREFIXED = [
    re.compile(rf"^\d\S* \S+ (?:- )?{_LEVEL}\b"),  # 2025-01-01 12:00:00,123 [-] INFO …
    re.compile(rf" - {_LEVEL} - "),  # %(asctime)s - %(levelname)s - %(name)s - …
]
_RANK_PREFIX = re.compile(r"^\[(?:rank|default)\d+\]:\s?")
_PY_WARNING = re.compile(r":\d+: \w*Warning:")
_TRACEBACK_START = "Traceback (most recent call last):"
# The first line of a traceback, and the lines joining chained ones.
_TRACEBACK_OPENERS = (
    _TRACEBACK_START,
    "During handling of the above exception",
    "The above exception was the direct cause",
)
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning|Failure)\b|^[A-Za-z_][\w.]*: ")


class LevelClassifier:
    """Classifies lines one after another; remembers whether it is inside a traceback.

    Runs once per log line, so the common shapes are recognised with string
    operations and the regular expressions only see the rest.
    """

    def __init__(self, *, in_traceback: bool = False) -> None:
        self.in_traceback = in_traceback

    def classify(self, line: str) -> str:
        if line.startswith(("[rank", "[default")) and (match := _RANK_PREFIX.match(line)):
            line = line[match.end() :]
        if self.in_traceback:
            return self._inside_traceback(line)
        if match := _LEADING_LEVEL.match(line):  # the usual shape, first; no traceback opener has it
            return _NAMES[match.group(1)]
        if line[:1] in ("T", "D") and line.startswith(_TRACEBACK_OPENERS):
            self.in_traceback = True  # a bridge line follows the exception line of a chained traceback
            return _ERROR
        return level_of(line)

    def _inside_traceback(self, line: str) -> str:
        if line[:1] in (" ", "\t", "^", "~") or line.startswith(_TRACEBACK_OPENERS):
            return _ERROR
        self.in_traceback = False
        if _EXCEPTION_LINE.match(line):
            return _ERROR  # `ValueError: …` closes the traceback
        return level_of(line)


def level_of(line: str) -> str:
    """The level one line announces by itself, INFO when it announces none."""
    # `[INFO|…`, `[INFO] …`, `INFO:…`, `INFO …`: an anchored match fails at once on other lines.
    if match := _LEADING_LEVEL.match(line):
        return _NAMES[match.group(1)]
    # The other shapes start with a digit (a date) or hold ` - ` (logging's common format).
    if line[:1].isdigit() or " - " in line[:80]:
        for pattern in _PREFIXED:
            if match := pattern.search(line, 0, 80):
                return _NAMES[match.group(1)]
    if "Warning:" in line and _PY_WARNING.search(line):
        return _WARNING
    return _INFO
