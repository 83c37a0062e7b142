"""A second, held-apart evaluation set: text written unlike the generator's (`deid.corpus`).

Each `*.txt` file beside this module holds documents, one a line, in a style of their
own (notice-style Chinese, customer-service Chinese, news-like English), with personal
data planted at a realistic density: about one item per 300-1,000 characters rather than
the generator's one per 75 bytes. `[[TYPE:value]]` marks an entity; `#` starts a comment
line. `manage.py evaluate_deid` scores the recognisers on it, per type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from deid.corpus import LabelledLine, Score, score
from deid.engine import PolicyConfig
from deid.recognizers import find_entities

FOLDER = Path(__file__).parent
MARK = re.compile(r"\[\[([A-Z_]+):(.+?)\]\]")


def parse_document(marked: str) -> LabelledLine:
    """The text without its marks, and each marked entity's type and span."""
    line = LabelledLine("")
    position = 0
    for match in MARK.finditer(marked):
        line.text += marked[position : match.start()]
        start = len(line.text)
        line.text += match.group(2)
        line.entities.append((match.group(1), start, len(line.text)))
        position = match.end()
    line.text += marked[position:]
    return line


def load(path: Path) -> list[LabelledLine]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [parse_document(line) for line in lines if line.strip() and not line.startswith("#")]


def evaluation_sets() -> dict[str, list[LabelledLine]]:
    return {path.stem: load(path) for path in sorted(FOLDER.glob("*.txt"))}


def evaluate(documents: Iterable[LabelledLine], *, locale: str, min_score: float = 0.5) -> dict[str, Score]:
    """Per-type precision and recall of the default policy's types on `documents`."""
    documents = list(documents)
    enabled = frozenset(PolicyConfig.default().entities)
    found = [
        [(f.type, f.start, f.end) for f in find_entities(d.text, enabled, min_score=min_score, locale=locale)]
        for d in documents
    ]
    return score(documents, found)
