"""audit.models.verb_name: every verb the platform records has a name people read, in their language."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from django.utils import translation

from audit.models import VERBS, AuditAction, verb_name
from llmplatform.testing import platform_app_configs
from runs.models import FINISHED_STATUSES

RECORDERS = {"record_event", "record_sign_in"}


def recorded_verbs() -> set[str]:
    """The `verb` of every call to record_event and record_sign_in in the platform's code: a string, either
    branch of a conditional, or a name the module holds (LOGIN, ROTATED); an attribute (run.status) is a status."""
    verbs: set[str] = set()
    for config in platform_app_configs():
        base = Path(config.path)
        for path in base.rglob("*.py"):
            if "tests" in path.relative_to(base).parts:
                continue
            module = f"{config.name}.{'.'.join(path.relative_to(base).with_suffix('').parts)}".removesuffix(".__init__")
            for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    not isinstance(call, ast.Call)
                    or getattr(call.func, "id", getattr(call.func, "attr", "")) not in RECORDERS
                ):
                    continue
                for keyword in call.keywords:
                    if keyword.arg == "verb":
                        verbs |= values_of(keyword.value, module)
    return verbs


def values_of(node: ast.expr, module: str) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return values_of(node.body, module) | values_of(node.orelse, module)
    if isinstance(node, ast.Name):
        return {getattr(importlib.import_module(module), node.id)}
    return set()


def test_it_finds_the_verbs_the_platform_records():
    assert {"cancel", "abort", "delete", "login", "rotate API token", "measure token lengths"} <= recorded_verbs()


def test_it_names_every_verb_the_platform_records():
    verbs = recorded_verbs() | {str(status) for status in FINISHED_STATUSES} | set(AuditAction.values)
    with translation.override("en"):
        unnamed = [verb for verb in sorted(verbs) if verb not in VERBS and verb not in AuditAction.values]
        assert unnamed == []
        assert verb_name("measure token lengths") == "measured token lengths"
        assert verb_name("create") == "Create"  # a plain edit's verb is its action


def test_it_names_a_verb_in_chinese_for_a_chinese_reader():
    with translation.override("zh-hans"):
        assert verb_name("measure token lengths") == "已测量 token 长度"
        assert verb_name("delete") == str(AuditAction.DELETE.label) != "Delete"


def test_it_keeps_a_verb_it_no_longer_records_as_recorded():
    assert verb_name("archive") == "archive"
