"""Derive the path-valued keys of a training config from the trainers' own argument definitions.

Writes runs/trainer_path_keys.json, the one list runs.config_paths reads to confine
what a run's effective config may point its trainer at. Run it again, and review
the difference, whenever the trainers move:

    .venv/bin/pip download llamafactory==0.9.5 --no-deps -d /tmp/lf
    .venv/bin/python scripts/derive_trainer_path_keys.py /tmp/lf/llamafactory-0.9.5-py3-none-any.whl

The sources: transformers' `Seq2SeqTrainingArguments` (every field of
`TrainingArguments` and the few it adds; LLaMA-Factory's own `TrainingArguments`
extends it), read with `dataclasses.fields` from the installed package; and every
`@dataclass` in LLaMA-Factory's `llamafactory/hparams/*_args.py`, read from its wheel
as source (parsed with `ast`, never imported: it needs a GPU stack to import).

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
import dataclasses
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

OUTPUT = Path(__file__).resolve().parent.parent / "runs" / "trainer_path_keys.json"
NAME_SUFFIXES = ("_dir", "_dirs", "logdir", "_path", "_paths", "_file", "_files", "_folder")
PATH_WORDS = re.compile(r"\b(paths?|director(y|ies)|folders?|files?)\b", re.IGNORECASE)
STRING_TYPE = re.compile(r"\b(str|Path)\b")
DICT_TYPE = re.compile(r"\b(dict|Dict)\b")
HPARAMS = re.compile(r"^llamafactory/hparams/\w+_args\.py$")

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


def transformers_fields() -> tuple[str, list[Field]]:
    import transformers
    from transformers import Seq2SeqTrainingArguments

    fields = [
        Field(
            name=field.name,
            type=str(field.type),
            help=str(field.metadata.get("help", "")),
            source="transformers Seq2SeqTrainingArguments",
        )
        for field in dataclasses.fields(Seq2SeqTrainingArguments)
    ]
    return transformers.__version__, fields


def _help_text(call: ast.expr | None) -> str:
    """The `metadata={"help": ...}` of a `field(...)` call, when it is a literal."""
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


def _is_dataclass(node: ast.ClassDef) -> bool:
    return any(ast.unparse(decorator).split("(")[0].endswith("dataclass") for decorator in node.decorator_list)


def dataclass_fields_in_source(source: str, module: str) -> Iterator[Field]:
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and _is_dataclass(node):
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    yield Field(
                        name=statement.target.id,
                        type=ast.unparse(statement.annotation),
                        help=_help_text(statement.value),
                        source=f"{module} {node.name}",
                    )


def llamafactory_fields(wheel: Path) -> tuple[str, list[Field]]:
    with zipfile.ZipFile(wheel) as archive:
        names = sorted(name for name in archive.namelist() if HPARAMS.match(name))
        if not names:
            raise SystemExit(f"{wheel} holds no llamafactory/hparams/*_args.py")
        version = next(
            line.split(":", 1)[1].strip()
            for name in archive.namelist()
            if name.endswith(".dist-info/METADATA")
            for line in archive.read(name).decode("utf-8").splitlines()
            if line.startswith("Version:")
        )
        fields = [
            field
            for name in names
            for field in dataclass_fields_in_source(archive.read(name).decode("utf-8"), "llamafactory")
        ]
    return version, fields


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
    parser.add_argument("--output", type=Path, default=OUTPUT)
    arguments = parser.parse_args(argv)
    transformers_version, from_transformers = transformers_fields()
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
