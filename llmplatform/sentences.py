"""Sentences for people, written once in English and read in the reader's language.

A sentence the platform makes is an English template of the catalog with named
placeholders (`"No project {reference!r}."`), so it has one msgid however its values
vary. Two ways reach the reader:

- raised: a domain error carries the template lazily (`format_lazy(gettext_lazy(...),
  reference=...)`); `english` renders it for the API, logs and the database, the
  console renders it in the language of the request;
- stored: what was written down in English (a dataset's validation reasons, a run's
  queue, retry and stall reasons) stays as it is for the API; `translate` finds the
  template it was made from and renders that template's translation with the same
  values, which are themselves translated where they are sentences of the catalog.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise, lazy

Text = str | Promise


def gettext_noop(message: str) -> str:
    """Mark `message` for the catalog (makemessages looks for this name) and keep it as it is. Django's own
    needs settings even for this; modules that make sentences are also imported without them (a bare Python
    imports datasets.storage, whose errors come from here)."""
    return message


# Parts of a stored sentence made by joining several with this separator.
JOINED = gettext_noop("; ")
# Phrases joined into one ("a number or null", "at least 0 and at most 1"), translated part by part.
OR = gettext_noop(" or ")
AND = gettext_noop(" and ")
# Wordings several checks share (dataset records, training YAMLs, trainer arguments): one msgid each.
MUST_BE = gettext_noop("must be {expected}, got {got}")
MUST_BE_ONE_OF = gettext_noop("must be one of {choices}, got {got}")
NON_EMPTY_STRING = gettext_noop("must be a non-empty string")
# How deep `translate` follows sentences placed inside sentences.
MAX_NESTING = 6
# The most JOINED one sentence of the catalog holds, plus one.
MAX_JOINED_PARTS = 4


def english(text: Text) -> str:
    """`text` as the API and the database keep it: in English, whatever language is active."""
    if isinstance(text, str):
        return text
    with translation.override("en"):
        return str(text)


def _join(separator: str, parts: tuple[Text, ...]) -> str:
    return separator.join(str(part) for part in parts)


_join_lazy = lazy(_join, str)


def join_lazy(separator: str, parts: Iterable[Text]) -> Text:
    """`separator.join(parts)`, made when read, so that each part is in the reader's language."""
    return _join_lazy(separator, tuple(parts))


def range_text(minimum: float | None, minimum_exclusive: bool, maximum: float | None, maximum_exclusive: bool) -> str:
    """The numbers a value may take, as "greater than 0 and at most 1"."""
    parts = []
    if minimum is not None:
        low = gettext_noop("greater than {minimum:g}") if minimum_exclusive else gettext_noop("at least {minimum:g}")
        parts.append(low.format(minimum=minimum))
    if maximum is not None:
        high = gettext_noop("less than {maximum:g}") if maximum_exclusive else gettext_noop("at most {maximum:g}")
        parts.append(high.format(maximum=maximum))
    return AND.join(parts)


def po_entries(path: Path) -> dict[str, str]:
    """msgid → msgstr (the first plural form) of a .po file, header and obsolete entries left out."""
    entries: dict[str, str] = {}
    current: dict[str, str] = {}
    key = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if current.get("msgid"):
                entries[current["msgid"]] = current.get("msgstr", current.get("msgstr[0]", ""))
            current, key = {}, ""
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            current[key] = ast.literal_eval(value)
    return entries


class Template:
    """A catalog msgid with `{name}` placeholders, and how to read its values back out of a sentence."""

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid
        pattern: list[str] = []
        literals: list[str] = []
        seen: set[str] = set()
        for literal, field, _spec, _conversion in string.Formatter().parse(msgid):
            pattern.append(re.escape(literal))
            literals.append(literal)
            if field is None:
                continue
            pattern.append(f"(?P={field})" if field in seen else f"(?P<{field}>.+?)")
            seen.add(field)
            literals.append("")  # a placeholder: what precedes it is no longer the sentence's start
        self.pattern = re.compile("".join(pattern), re.S)
        self.literal = "".join(literals)
        self.literal_length = len(self.literal)
        self.prefix = literals[0]
        self.suffix = literals[-1]

    def values(self, sentence: str) -> dict[str, str] | None:
        if not (sentence.startswith(self.prefix) and sentence.endswith(self.suffix)):
            return None
        found = self.pattern.fullmatch(sentence)
        return found.groupdict() if found else None


def render(template: str, values: dict[str, str]) -> str:
    """`template` with each placeholder replaced by its value as it stands (conversions and formats
    were applied when the English sentence was made)."""
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(literal)
        if field is not None:
            parts.append(values.get(field, ""))
    return "".join(parts)


def _is_template(msgid: str) -> bool:
    """Does `msgid` have `{name}` placeholders, and nothing else in braces that `str.format` would read?"""
    try:
        fields = [field for _literal, field, _spec, _conversion in string.Formatter().parse(msgid) if field is not None]
    except ValueError:  # braces that are no placeholders: a plain sentence
        return False
    return bool(fields) and all(field.isidentifier() for field in fields)


@cache
def templates() -> tuple[Template, ...]:
    """Every template of the platform's catalog, those with the most fixed text first (the most precise)."""
    catalog = Path(settings.LOCALE_PATHS[0]) / "en" / "LC_MESSAGES" / "django.po"
    found = [Template(msgid) for msgid in po_entries(catalog) if "{" in msgid and _is_template(msgid)]
    return tuple(sorted(found, key=lambda template: -template.literal_length))


# A sentence about a quoted value that leads it: "'/etc' is outside the training directory".
_QUOTED_SUBJECT = re.compile(r"""(?P<subject>[^'"]*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")) (?P<rest>.+)""", re.S)


def translate(sentence: str) -> str:
    """A sentence stored or raised in English, in the active language: the translation of the catalog
    template it was made from, with its values (themselves translated where they are sentences of the
    catalog). A sentence the catalog does not know is returned as it is."""
    return _translated(translation.get_language(), sentence)


@lru_cache(maxsize=4096)  # a queue of runs repeats a few reasons many times
def _translated(language: str | None, sentence: str) -> str:
    return _Translation().of(sentence, 0)


class _Translation:
    """One sentence's translation, remembering its pieces' (joined sentences are tried many ways)."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def of(self, sentence: str, depth: int) -> str:
        if sentence not in self.known:
            self.known[sentence] = self._translate(sentence, depth)
        return self.known[sentence]

    def _translate(self, sentence: str, depth: int) -> str:
        if not sentence or depth > MAX_NESTING:
            return sentence
        translated = translation.gettext(sentence)
        if translated != sentence:
            return translated
        if JOINED in sentence:
            # A template that joins sentences itself first, then the sentences joined, each the catalog's.
            if (joining := self._by_template(sentence, depth, joining=True)) is not None:
                return joining
            if pieces := self._joined(sentence.split(JOINED), depth):
                return translation.gettext(JOINED).join(pieces)
        if (made := self._by_template(sentence, depth, joining=False)) is not None:
            return made
        for separator in (OR, AND):  # phrases: taken apart only when each is one of the catalog
            parts = sentence.split(separator)
            translated_parts = [self.of(part, depth + 1) for part in parts]
            if len(parts) > 1 and all(new != old for new, old in zip(translated_parts, parts, strict=True)):
                return translation.gettext(separator).join(translated_parts)
        quoted = _QUOTED_SUBJECT.fullmatch(sentence)
        if quoted and (rest := self.of(quoted["rest"], depth + 1)) != quoted["rest"]:
            return f"{quoted['subject']} {rest}"
        if JOINED in sentence:  # some of the sentences joined are the catalog's: those at least
            return translation.gettext(JOINED).join(self.of(part, depth + 1) for part in sentence.split(JOINED))
        return sentence

    def _by_template(self, sentence: str, depth: int, *, joining: bool) -> str | None:
        for template in templates():
            if (JOINED in template.literal) != joining:
                continue
            values = template.values(sentence)
            if values is not None:
                own = {name: self.of(value, depth + 1) for name, value in values.items()}
                return render(translation.gettext(template.msgid), own)
        return None

    def _joined(self, parts: list[str], depth: int) -> list[str] | None:
        """Sentences joined with JOINED, each translated: the most of them (a sentence may hold JOINED
        itself, "...; did you mean 'x'?"), or None when no such cut translates every one."""
        best: list[list[str] | None] = [[], *[None] * len(parts)]
        for end in range(1, len(parts) + 1):
            # The shortest last sentence first: a placeholder at a template's end would swallow the next ones.
            for start in range(end - 1, max(end - MAX_JOINED_PARTS, 0) - 1, -1):
                before = best[start]
                if before is None or (start == 0 and end == len(parts)):
                    continue
                piece = JOINED.join(parts[start:end])
                translated = self.of(piece, depth + 1)
                current = best[end]
                if translated != piece and (current is None or len(before) + 1 > len(current)):
                    best[end] = [*before, translated]
        return best[-1]


def translate_lazy(message: Text) -> str:
    """A domain error's sentence in the active language: its English made again from the catalog's
    templates (which reaches the sentences placed inside it), else its own lazy translation."""
    if isinstance(message, str):
        return translate(message)
    detail = english(message)
    translated = translate(detail)
    return translated if translated != detail else str(message)
