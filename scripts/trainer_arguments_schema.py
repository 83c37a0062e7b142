"""Generate projects/trainer_arguments.json: every key each trainer family's argument parser takes, with its type.

The pre-flight check (projects.trainer_arguments) reads this file to refuse, at launch, a
config its trainer would refuse after the run was queued: LLaMA-Factory parses its YAML
with `HfArgumentParser(...).parse_dict(config)`, which fails on any key none of its
dataclasses defines ("Some keys are not used by the HfArgumentParser"), and hands each
value to the dataclass as it is (a string where a number belongs fails later).

    .venv/bin/pip download --no-deps -d var/wheels llamafactory==0.9.5 transformers==5.6.0 transformers==5.23.0
    .venv/bin/python scripts/trainer_arguments_schema.py var/wheels/llamafactory-0.9.5-py3-none-any.whl \
        var/wheels/transformers-5.6.0-py3-none-any.whl var/wheels/transformers-5.23.0-py3-none-any.whl \
        > projects/trainer_arguments.json

Three wheels, read as source by scripts/trainer_wheels.py:
- LLaMA-Factory's, for its five parser dataclasses (`_TRAIN_ARGS` in `llamafactory/hparams/
  parser.py`: Model, Data, Training, Finetuning and Generating arguments) and every class
  they inherit from, and its enums (`llamafactory/extras/constants.py`);
- the transformers LLaMA-Factory runs with (the newest its `Requires-Dist` allows: 5.6.0
  for 0.9.5), whose `Seq2SeqTrainingArguments` its own `TrainingArguments` extends
  (transformers 5.2 dropped `warmup_ratio`, which LLaMA-Factory's examples use);
- the transformers of requirements-trainer.txt, for the "hf-trainer" family: a script
  around `transformers.Trainer` reads `Seq2SeqTrainingArguments`' keys.

A field is a key when the parser takes it (`init=False` fields are not). Its type is
reduced to what a YAML value can be: boolean, integer, number, string, mapping, list,
null, or any (a type no YAML value has, such as `torch.dtype`, accepts anything);
`Literal[...]` and enum types give the choices (transformers and LLaMA-Factory turn
the string into the enum in `__post_init__`, refusing other values).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import Any

from trainer_wheels import LLAMAFACTORY_SOURCES, TRANSFORMERS_SOURCES, FoundField, Package, read_wheel, takes_init

# The dataclasses LLaMA-Factory's train parser is made of (hparams/parser.py, `_TRAIN_ARGS`).
LLAMAFACTORY_PARSER = (
    "ModelArguments",
    "DataArguments",
    "TrainingArguments",
    "FinetuningArguments",
    "GeneratingArguments",
)
# LLaMA-Factory's name for the transformers class its TrainingArguments extends.
LLAMAFACTORY_BASE = "BaseTrainingArguments"
TRANSFORMERS_PARSER = ("Seq2SeqTrainingArguments",)

TYPE_NAMES = {
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "str": "string",
    "Path": "string",
    "dict": "mapping",
    "Dict": "mapping",
    "list": "list",
    "List": "list",
    "tuple": "list",
    "None": "null",
    "NoneType": "null",
}
ALL_TYPES = ("boolean", "integer", "number", "string", "mapping", "list", "null")


@dataclasses.dataclass
class ArgumentType:
    types: set[str] = dataclasses.field(default_factory=set)
    choices: list[str] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        types = sorted(self.types) if "any" not in self.types else ["any"]
        document: dict[str, Any] = {"types": types}
        if self.choices and "any" not in self.types:
            document["choices"] = self.choices
        return document


def read_annotation(node: ast.expr, enum_values: Callable[[str], list[str] | None], into: ArgumentType) -> None:
    """Add to `into` what a value of the annotated type can be (`enum_values` gives an enum's values by name)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        read_annotation(node.left, enum_values, into)
        read_annotation(node.right, enum_values, into)
        return
    if isinstance(node, ast.Constant):
        if node.value is None:
            into.types.add("null")
        elif isinstance(node.value, str):  # a forward reference: "torch.dtype"
            read_annotation(ast.parse(node.value, mode="eval").body, enum_values, into)
        return
    if isinstance(node, ast.Subscript):
        outer = ast.unparse(node.value).rsplit(".", 1)[-1]
        items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if outer in {"Optional", "Union"}:
            if outer == "Optional":
                into.types.add("null")
            for item in items:
                read_annotation(item, enum_values, into)
        elif outer == "Literal":
            for item in items:
                value = ast.literal_eval(item)
                into.types.add("null" if value is None else type_name(type(value)))
                if value is not None:
                    into.choices.append(value)
        else:
            into.types.add(TYPE_NAMES.get(outer, "any"))
        return
    name = ast.unparse(node)
    short = name.rsplit(".", 1)[-1]
    if short in TYPE_NAMES:
        into.types.add(TYPE_NAMES[short])
    elif (values := enum_values(name)) is not None:
        into.types.add("string")
        into.choices.extend(value for value in values if value not in into.choices)
    else:  # `Any`, or a type no YAML value has (`torch.dtype`): the parser hands the value over as it is
        into.types.add("any")


def type_name(kind: type) -> str:
    return TYPE_NAMES.get(kind.__name__, "any")


def arguments(
    package: Package, parser: Iterable[str], foreign: Callable[[str], list[FoundField] | None] = lambda name: None
) -> dict[str, Any]:
    """The keys the dataclasses `parser` (and their bases) take, with their types."""
    taken: dict[str, Any] = {}
    for field in package.fields(parser, foreign):
        if takes_init(field.statement):
            kind = ArgumentType()
            read_annotation(field.statement.annotation, field.package.enum_values, kind)
            taken[field.name] = kind.as_json()
    return dict(sorted(taken.items()))


def transformers_arguments(package: Package) -> dict[str, Any]:
    return arguments(package, TRANSFORMERS_PARSER)


def schema(llamafactory_wheel: str, llamafactory_transformers_wheel: str, transformers_wheel: str) -> dict[str, Any]:
    llamafactory = read_wheel(llamafactory_wheel, LLAMAFACTORY_SOURCES)
    beneath = read_wheel(llamafactory_transformers_wheel, TRANSFORMERS_SOURCES)
    transformers = read_wheel(transformers_wheel, TRANSFORMERS_SOURCES)
    beneath_fields = beneath.fields(TRANSFORMERS_PARSER)
    from_llamafactory = arguments(
        llamafactory, LLAMAFACTORY_PARSER, lambda name: beneath_fields if name == LLAMAFACTORY_BASE else None
    )
    return {
        "about": (
            "The keys each trainer family's argument parser takes, with their types; "
            "read by projects.trainer_arguments, "
            f"written by scripts/{PurePosixPath(__file__).name} from the trainers' own dataclasses (see there how)."
        ),
        "types": list(ALL_TYPES),
        "trainers": {
            "llamafactory-0.9.x": {
                "name": f"LLaMA-Factory {llamafactory.version}",
                "versions": {"llamafactory": llamafactory.version, "transformers": beneath.version},
                "arguments": from_llamafactory,
            },
            "hf-trainer": {
                "name": f"transformers {transformers.version} Seq2SeqTrainingArguments",
                "versions": {"transformers": transformers.version},
                "arguments": transformers_arguments(transformers),
            },
        },
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("llamafactory_wheel", help="llamafactory-*.whl (pip download --no-deps)")
    parser.add_argument("llamafactory_transformers_wheel", help="transformers-*.whl: the one LLaMA-Factory runs with")
    parser.add_argument("transformers_wheel", help="transformers-*.whl: requirements-trainer.txt's, for hf-trainer")
    arguments = parser.parse_args(argv)
    document = schema(
        arguments.llamafactory_wheel, arguments.llamafactory_transformers_wheel, arguments.transformers_wheel
    )
    sys.stdout.write(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
