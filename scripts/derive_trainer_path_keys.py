"""Derive the path-valued keys of a training config from the trainers' own argument definitions.

Writes runs/trainer_path_keys.json, the one list runs.config_paths reads to confine
what a run's effective config may point its trainer at. Run it again, and review
the difference, whenever the trainers move:

    .venv/bin/pip download --no-deps -d var/wheels llamafactory==0.9.5 transformers==5.6.0
    .venv/bin/python scripts/derive_trainer_path_keys.py var/wheels/llamafactory-0.9.5-py3-none-any.whl \
        var/wheels/transformers-5.6.0-py3-none-any.whl

The sources, both read from their wheels as source by scripts/trainer_wheels.py:
the transformers LLaMA-Factory runs with (the newest its `Requires-Dist` allows:
5.6.0 for 0.9.5; the same as projects/trainer_arguments.json's), for
`Seq2SeqTrainingArguments` (every field of `TrainingArguments` and the few it adds;
LLaMA-Factory's own `TrainingArguments` extends it); and every `@dataclass` in
LLaMA-Factory's `llamafactory/hparams/*_args.py`.

A field is path-valued when
  1. its type admits a string (the annotation names `str` or `Path`), and
  2. its name ends with one of NAME_SUFFIXES, or its help text (`metadata["help"]`)
     names a path, directory, folder or file (PATH_WORDS);
then the by-hand review's verdicts apply: REVIEWED_IN adds the keys that name files
in words the rule does not catch, REVIEWED_OUT drops the rule's false hits, each
with the reason. A path-valued field whose type admits a dict too (`deepspeed:
dict | str`) is of kind "path_or_inline": a file's path, or the config itself.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from trainer_wheels import TRANSFORMERS_SOURCES, SourceClass, help_text, read_wheel

OUTPUT = Path(__file__).resolve().parent.parent / "runs" / "trainer_path_keys.json"
NAME_SUFFIXES = ("_dir", "_dirs", "logdir", "_path", "_paths", "_file", "_files", "_folder")
PATH_WORDS = re.compile(r"\b(paths?|director(y|ies)|folders?|files?)\b", re.IGNORECASE)
STRING_TYPE = re.compile(r"\b(str|Path)\b")
DICT_TYPE = re.compile(r"\b(dict|Dict)\b")
HPARAMS = re.compile(r"^llamafactory/hparams/\w+_args\.py$")
TRANSFORMERS_PARSER = "Seq2SeqTrainingArguments"

REVIEWED_IN = {
    "dataset": (
        "LLaMA-Factory reads it as names in dataset_info.json, but with `dataset_dir: ONLINE` hands each name "
        "to datasets.load_dataset, which opens local paths; the demo and stand-in trainers read it as a file"
    ),
    "eval_dataset": "as `dataset`",
    "model_name": "demo/training/train_sft.py loads a local model folder named by it",
}
REVIEWED_OUT: dict[str, str] = {}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    help: str
    source: str


def field_of(name: str, statement: ast.AnnAssign, source: str) -> Field:
    return Field(name=name, type=ast.unparse(statement.annotation), help=help_text(statement), source=source)


def transformers_fields(wheel: Path) -> tuple[str, list[Field]]:
    """Every field of `Seq2SeqTrainingArguments` and its bases, as `dataclasses.fields` lists them."""
    package = read_wheel(str(wheel), TRANSFORMERS_SOURCES)
    source = f"transformers {TRANSFORMERS_PARSER}"
    fields = [field_of(found.name, found.statement, source) for found in package.fields([TRANSFORMERS_PARSER])]
    return package.version, fields


def fields_of_every_dataclass(classes: dict[str, SourceClass], module: str) -> list[Field]:
    return [
        field_of(name, statement, f"{module} {class_name}")
        for class_name, source_class in classes.items()
        for name, statement in source_class.fields.items()
    ]


def llamafactory_fields(wheel: Path) -> tuple[str, list[Field]]:
    package = read_wheel(str(wheel), HPARAMS)
    return package.version, fields_of_every_dataclass(package.classes, "llamafactory")


def verdict(field: Field) -> str | None:
    """Why the rule takes `field` as path-valued ("name", "help"), or None."""
    if not STRING_TYPE.search(field.type):
        return None
    if field.name.endswith(NAME_SUFFIXES):
        return "name"
    if PATH_WORDS.search(field.help):
        return "help"
    return None


def path_keys(fields: list[Field]) -> dict[str, dict[str, object]]:
    keys: dict[str, dict[str, object]] = {}
    for field in fields:
        why = f"review: {REVIEWED_IN[field.name]}" if field.name in REVIEWED_IN else verdict(field)
        if why is None or field.name in REVIEWED_OUT:
            continue
        help_text = " ".join(field.help.split())
        entry = keys.setdefault(field.name, {"kind": "path", "why": why, "help": help_text, "from": []})
        if DICT_TYPE.search(field.type):
            entry["kind"] = "path_or_inline"
        sources = entry["from"]
        assert isinstance(sources, list)
        if field.source not in sources:
            sources.append(field.source)
    missing = sorted(set(REVIEWED_IN) - set(keys))
    for name in missing:  # the demo trainer's keys have no dataclass to be found in
        keys[name] = {"kind": "path", "why": f"review: {REVIEWED_IN[name]}", "help": "", "from": ["review"]}
    return dict(sorted(keys.items()))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("llamafactory_wheel", type=Path, help="a llamafactory-*.whl (pip download --no-deps)")
    parser.add_argument("transformers_wheel", type=Path, help="transformers-*.whl: the one LLaMA-Factory runs with")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    arguments = parser.parse_args(argv)
    transformers_version, from_transformers = transformers_fields(arguments.transformers_wheel)
    llamafactory_version, from_llamafactory = llamafactory_fields(arguments.llamafactory_wheel)
    document = {
        "about": (
            "The path-valued keys of a training config, read by runs.config_paths; written by "
            f"scripts/{PurePosixPath(__file__).name} from the trainers' argument definitions (see there how)."
        ),
        "trainers": {"transformers": transformers_version, "llamafactory": llamafactory_version},
        "name_suffixes": list(NAME_SUFFIXES),
        "keys": path_keys(from_transformers + from_llamafactory),
    }
    arguments.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(document['keys'])} path-valued keys written to {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
