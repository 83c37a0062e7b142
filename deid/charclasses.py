"""Character classes for regular expressions, built from Unicode's general categories.

Python's `re` has no `\\p{...}`, so the classes are made once, at import, from
`unicodedata`: every code point's category decides which class it belongs to, never a
hand-written list of characters. Ideographs (CJK) are told apart from other letters
because they are written without spaces: a Chinese character next to a number ends it,
a Latin letter next to it makes it part of a longer token.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable

IDEOGRAPH_NAMES = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")


def is_ideograph(char: str) -> bool:
    return unicodedata.name(char, "").startswith(IDEOGRAPH_NAMES)


def class_name(char: str) -> str:
    """A character's class: its general category (`Lu`, `Nd`, `Pf`...), or `Ideo` for an ideograph."""
    category = unicodedata.category(char)
    return "Ideo" if category == "Lo" and is_ideograph(char) else category


def _runs() -> tuple[tuple[int, int, str], ...]:
    """Every code point's class, as runs of consecutive code points (first, last, class)."""
    runs: list[tuple[int, int, str]] = []
    first, current = 0, class_name("\0")
    for code in range(1, sys.maxunicode + 1):
        name = class_name(chr(code))
        if name != current:
            runs.append((first, code - 1, current))
            first, current = code, name
    runs.append((first, sys.maxunicode, current))
    return tuple(runs)


RUNS = _runs()
BMP_LAST = 0xFFFF


def _escape(code: int) -> str:
    return f"\\U{code:08x}"


def character_class(predicate: Callable[[str], bool]) -> str:
    """A regex matching one code point whose class satisfies `predicate`.

    Python's regex engine looks a character up in one step in a set of the Basic
    Multilingual Plane's characters, but walks a list of ranges for a set that reaches
    beyond it: the astral ranges get their own set, tried only for an astral character."""
    bmp, astral = [], []
    for first, last, name in RUNS:
        if predicate(name):
            if first <= BMP_LAST:
                bmp.append(_range(first, min(last, BMP_LAST)))
            if last > BMP_LAST:
                astral.append(_range(max(first, BMP_LAST + 1), last))
    if not astral:
        return "[" + "".join(bmp) + "]"
    return f"(?:[{''.join(bmp)}]|(?=[\\U00010000-\\U0010ffff])[{''.join(astral)}])"


def _range(first: int, last: int) -> str:
    return _escape(first) if first == last else f"{_escape(first)}-{_escape(last)}"


def joins_words(name: str) -> bool:
    """Letters of scripts written with spaces, digits and other numbers, combining marks
    and connector punctuation: a character of one of these next to a token continues it."""
    return name[0] in "LNM" or name == "Pc"


# Continues a token (see `joins_words`); ideographs, spaces, other punctuation and symbols end it.
JOINS = character_class(joins_words)
# The same without letters: a token whose shape delimits itself (a dotted quad) may touch letters.
JOINS_NUMBERS = character_class(lambda name: name[0] in "NM" or name == "Pc")
IDEOGRAPH = character_class(lambda name: name == "Ideo")
