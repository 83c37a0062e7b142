"""docs/threat-model.md points at code and tests that exist: a file moved or a test renamed shows up here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def pointers() -> list[str]:
    text = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    return re.findall(r"`([\w/.]+\.py(?:::\w+)?)`", text)


def exists(pointer: str) -> bool:
    path, _, test = pointer.partition("::")
    if not (ROOT / path).is_file():
        return False
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return not test or test in {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_it_points_at_files_and_tests_that_exist():
    assert len(pointers()) > 20
    assert [pointer for pointer in pointers() if not exists(pointer)] == []
