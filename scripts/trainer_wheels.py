"""Reading trainers' argument dataclasses out of their wheels, as source: the one reader of
scripts/trainer_arguments_schema.py and scripts/derive_trainer_path_keys.py.

A wheel is a zip; the modules that define a trainer's arguments are read with `ast`, never
imported (LLaMA-Factory needs a GPU stack to import, and the transformers it runs with is
not the platform's). What comes out is each dataclass with its bases and its fields' `ast`
statements, each enum with its values, and the wheel's name and version; `Package.fields`
walks a parser's dataclasses through their bases in the order dataclasses do.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import zipfile
from collections.abc import Callable, Iterable
from typing import NamedTuple

ENUM_BASES = {"Enum", "StrEnum", "IntEnum", "ExplicitEnum"}
# The modules of each trainer that define its argument dataclasses and the enums their types name.
LLAMAFACTORY_SOURCES = re.compile(r"^llamafactory/(hparams/\w+\.py|extras/constants\.py)$")
TRANSFORMERS_SOURCES = re.compile(r"^transformers/(training_args\w*|trainer_utils|debug_utils|utils/generic)\.py$")


@dataclasses.dataclass
class SourceClass:
    bases: list[str]
    fields: dict[str, ast.AnnAssign]


def is_dataclass(node: ast.ClassDef) -> bool:
    return any(ast.unparse(decorator).split("(")[0].endswith("dataclass") for decorator in node.decorator_list)


def takes_init(statement: ast.AnnAssign) -> bool:
    """Whether the dataclass' __init__ (and so an argument parser) takes the field: not `field(init=False)`."""
    call = statement.value
    return not (
        isinstance(call, ast.Call)
        and any(
            keyword.arg == "init" and isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            for keyword in call.keywords
        )
    )


def help_text(statement: ast.AnnAssign) -> str:
    """The `metadata={"help": ...}` of a field's `field(...)` call, when it is a literal."""
    call = statement.value
    if not isinstance(call, ast.Call):
        return ""
    for keyword in call.keywords:
        if keyword.arg == "metadata" and isinstance(keyword.value, ast.Dict):
            for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "help":
                    try:
                        return str(ast.literal_eval(value))
                    except ValueError:
                        return ast.unparse(value)
    return ""


def read_source_classes(sources: Iterable[str]) -> tuple[dict[str, SourceClass], dict[str, list[str]]]:
    """(dataclasses by name, enums' values by name) defined in `sources`."""
    classes: dict[str, SourceClass] = {}
    enums: dict[str, list[str]] = {}
    for source in sources:
        for node in ast.parse(source).body:
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [ast.unparse(base) for base in node.bases]
            if any(base.rsplit(".", 1)[-1] in ENUM_BASES for base in bases):
                enums[node.name] = [
                    str(ast.literal_eval(statement.value))
                    for statement in node.body
                    if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
                ]
            elif is_dataclass(node):
                fields = {
                    statement.target.id: statement
                    for statement in node.body
                    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                }
                classes[node.name] = SourceClass(bases=bases, fields=fields)
    return classes, enums


class FoundField(NamedTuple):
    """A field as a walk through a parser's dataclasses finds it, with the package that defines it."""

    name: str
    class_name: str
    statement: ast.AnnAssign
    package: Package


@dataclasses.dataclass
class Package:
    name: str
    version: str
    classes: dict[str, SourceClass]
    enums: dict[str, list[str]]

    def enum_values(self, name: str) -> list[str] | None:
        """The values of the enum a type annotation names (`RopeScaling`, `extras.constants.RopeScaling`)."""
        return self.enums.get(name.rsplit(".", 1)[-1])

    def fields(
        self, parser: Iterable[str], foreign: Callable[[str], list[FoundField] | None] = lambda name: None
    ) -> list[FoundField]:
        """The fields of the dataclasses `parser` and their bases, the one that wins for each name (as dataclasses
        order them: the last base's first, each earlier base's over them, the class's own last); `foreign` gives
        the fields of a base defined in another package."""
        found: dict[str, FoundField] = {}

        def take(class_name: str) -> None:
            if (elsewhere := foreign(class_name)) is not None:
                found.update((field.name, field) for field in elsewhere)
                return
            if class_name not in self.classes:
                raise SystemExit(f"{class_name}, a base of {self.name}'s arguments, is defined nowhere read here")
            for base_name in reversed(self.classes[class_name].bases):
                take(base_name)
            for key, statement in self.classes[class_name].fields.items():
                found.pop(key, None)  # a redefined field moves to where the class defining it puts it
                found[key] = FoundField(key, class_name, statement, self)

        for class_name in parser:
            take(class_name)
        return list(found.values())


def read_wheel(wheel: str, sources: re.Pattern[str]) -> Package:
    """The dataclasses and enums of the modules of `wheel` whose names match `sources`."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        headers = dict(
            line.split(": ", 1) for line in archive.read(metadata).decode("utf-8").splitlines() if ": " in line
        )
        names = sorted(name for name in archive.namelist() if sources.match(name))
        if not names:
            raise SystemExit(f"{wheel} holds no module matching {sources.pattern}")
        classes, enums = read_source_classes(archive.read(name).decode("utf-8") for name in names)
    return Package(name=headers["Name"], version=headers["Version"], classes=classes, enums=enums)
