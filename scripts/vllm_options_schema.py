#!/usr/bin/env python3
"""Describe every option `vllm serve` accepts, as JSON, from a vLLM wheel.

    .venv/bin/pip download vllm==0.34.0 --no-deps -d /tmp/vllm
    .venv/bin/python scripts/vllm_options_schema.py /tmp/vllm/vllm-0.34.0-*.whl > deployments/vllm_options.json

vLLM builds its command line at run time from its config dataclasses (field types,
`Literal` choices, booleans that get `--no-` and `--disable-` twins, special cases
patched into the argparse keyword arguments), so reading its source would mean
re-implementing that logic and drifting from it. Instead this script unpacks the
wheel's Python files, imports vLLM on the CPU with the few dependencies argument
parsing never uses replaced by empty stand-ins, builds the very parser `vllm serve`
builds (`make_arg_parser`), and writes what each of its options is: its spellings,
whether it takes a value, how many, of which type, from which choices.
deployments/vllm_policy.py says which of them users may pass; the schema only says
what exists.

Needs torch, transformers and pydantic (requirements-trainer.txt). A vLLM release
that imports a package missing here fails with ModuleNotFoundError naming it: if
the parser cannot need it, add it to STAND_INS.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
import tempfile
import types
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Imported by vLLM at start-up but used only to serve, schedule or run kernels; the
# platform's environment does not install them.
STAND_INS = frozenset(
    {
        "PIL",
        "aiohttp",
        "cachetools",
        "cbor2",
        "cloudpickle",
        "cpuinfo",
        "fastapi",
        "llguidance",
        "msgspec",
        "openai",
        "openai_harmony",
        "partial_json_parser",
        "prometheus_client",
        "pybase64",
        "uvloop",
        "xgrammar",
        "zmq",
    }
)
# What the wheel is unpacked of: vLLM's Python, the data files it reads at import, its metadata.
UNPACKED_SUFFIXES = (".py", ".json", ".jinja", "METADATA", "entry_points.txt")


class _StandInType(type):
    """A class whose attributes, subscripts and unions are stand-in classes too."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _StandInType(name, (_StandIn,), {})

    def __getitem__(cls, item: object) -> Any:
        return cls

    def __or__(cls, other: object) -> Any:
        return cls

    def __ror__(cls, other: object) -> Any:
        return cls


class _StandIn(metaclass=_StandInType):
    def __init_subclass__(cls, **options: object) -> None:  # msgspec.Struct takes class options
        pass

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __call__(self, *args: object, **kwargs: object) -> None:
        return None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: object, handler: object) -> Any:
        from pydantic_core import core_schema

        return core_schema.any_schema()


class _StandInModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _StandInType(name, (_StandIn,), {})


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a STAND_INS package that is not installed as an empty module of stand-in classes."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None) -> Any:
        if fullname.split(".")[0] not in STAND_INS:
            return None
        for finder in sys.meta_path:
            if finder is not self and finder.find_spec(fullname, path, target) is not None:
                return None  # installed: the real one
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _closure(function: Callable[..., Any]) -> dict[str, Any]:
    cells = function.__closure__ or ()
    return dict(zip(function.__code__.co_freevars, (cell.cell_contents for cell in cells), strict=True))


# vLLM's value parsers, by function name, as the schema calls them.
VALUE_TYPES = {
    "loads": "json",  # json.loads
    "parse_dataclass": "json",  # a config dataclass given as JSON
    "union_dict_and_str": "json-or-str",  # JSON when it looks like an object, else the string
    "human_readable_int": "human-int",  # 4096, 4k (4000), 4K (4096)
    "human_readable_int_or_auto": "human-int-or-auto",  # the same, or -1/auto
    "parse_reasoning_parser": "str",  # `none` means unset
}


def registered_values() -> dict[str, list[str]]:
    """Values vLLM knows for options its parser takes as free strings (checked later, by vLLM's registries)."""
    quantization = importlib.import_module("vllm.model_executor.layers.quantization")
    reasoning = importlib.import_module("vllm.reasoning")
    tool_parsers = importlib.import_module("vllm.tool_parsers")
    return {
        "quantization": list(quantization.QUANTIZATION_METHODS),
        "reasoning_parser": reasoning.ReasoningParserManager.list_registered(),
        "tool_call_parser": tool_parsers.ToolParserManager.list_registered(),
    }


def value_type(parse: Any) -> tuple[str, bool]:
    """The schema's name for an argparse `type`, and whether an empty value or `None` means unset."""
    if parse is None or parse is str:
        return "str", False
    if parse in (int, float):
        return parse.__name__, False
    name = getattr(parse, "__name__", "")
    if name == "_optional_type":
        return value_type(_closure(parse)["return_type"])[0], True
    if name == "_parse_type":
        return value_type(_closure(parse)["return_type"])
    if name in VALUE_TYPES:
        return VALUE_TYPES[name], False
    return f"{getattr(parse, '__module__', '?')}.{getattr(parse, '__qualname__', repr(parse))}", False


def _json_value(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else str(value)


def describe(
    action: argparse.Action, spellings: list[str], group: str, deprecated: bool, known: dict[str, list[str]]
) -> dict[str, Any]:
    """One option of the parser, in the schema's words; `spellings` are all the strings the parser maps to it."""
    negative = set(getattr(action, "negative_option_strings", ()))
    if isinstance(action, argparse.BooleanOptionalAction):
        negative |= {name for name in spellings if name.startswith("--no-")}
    ordered = [name for name in action.option_strings if name in spellings]
    ordered += [name for name in spellings if name not in ordered]
    entry: dict[str, Any] = {
        "names": [name for name in ordered if name not in negative],
        "negations": sorted(name for name in ordered if name in negative),
        "dest": action.dest,
        "group": group,
        "action": type(action).__name__,
    }
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):
        entry["values"] = 0
    else:
        entry["values"] = 1 if action.nargs is None else action.nargs
        entry["type"], entry["none_unsets"] = value_type(action.type)
        choices = list(action.choices) if action.choices is not None else None
        if choices is not None and None in choices:
            choices.remove(None)
            entry["none_unsets"] = True
        entry["choices"] = [_json_value(choice) for choice in choices] if choices is not None else None
        if isinstance(action.metavar, list | tuple) and action.nargs is None:
            entry["suggestions"] = [_json_value(value) for value in action.metavar]
        elif action.dest in known:
            entry["suggestions"] = known[action.dest]
    entry["hidden"] = action.help == argparse.SUPPRESS
    entry["deprecated"] = deprecated
    return entry


def serve_options(source: Path) -> dict[str, Any]:
    """Import vLLM from `source` (a folder holding the `vllm` package) and describe `vllm serve`'s options."""
    for name in [name for name in os.environ if name.startswith("VLLM_")]:
        del os.environ[name]  # the caller's vLLM settings (plugins, frontends) must not change the result
    os.environ["VLLM_TARGET_DEVICE"] = "cpu"  # no GPU here; the CUDA platform adds no option either
    sys.path.insert(0, str(source))
    sys.meta_path.append(_StandInFinder())

    # Imported by name: vLLM is not installed, only unpacked for this run.
    cli_args = importlib.import_module("vllm.entrypoints.common.cli_args")
    argparse_utils = importlib.import_module("vllm.utils.argparse_utils")
    version = importlib.import_module("vllm.version").__version__

    parser = cli_args.make_arg_parser(argparse_utils.FlexibleArgumentParser(prog="vllm serve"))
    group_of = {id(action): group.title or "" for group in parser._action_groups for action in group._group_actions}
    deprecated = {id(action) for action in getattr(parser, "_deprecated", ())}
    known = registered_values()
    spellings: dict[int, list[str]] = {}
    for name, action in parser._option_string_actions.items():  # hidden twins (`--no-enable-x`) included
        spellings.setdefault(id(action), []).append(name)
    options = [
        describe(
            action,
            spellings[id(action)],
            group_of.get(id(action), ""),
            id(action) in deprecated or bool(getattr(action, "deprecated", False)),
            known,
        )
        for action in parser._actions
        if action.option_strings
    ]
    return {
        "vllm_version": version,
        "command": "vllm serve",
        "generated_by": "scripts/vllm_options_schema.py",
        "options": sorted(options, key=lambda entry: entry["names"][0]),
    }


def unpack(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.endswith(UNPACKED_SUFFIXES) and not member.startswith("/") and ".." not in member.split("/"):
                archive.extract(member, target)


def dumps(schema: dict[str, Any]) -> str:
    """The schema as JSON with one option a line, so that a new vLLM's changes read as a short diff."""
    header = {key: value for key, value in schema.items() if key != "options"}
    lines = [json.dumps(option, ensure_ascii=False) for option in schema["options"]]
    head = json.dumps(header, indent=1, ensure_ascii=False)[:-2]
    return head + ',\n "options": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("wheel", type=Path, help="a vLLM wheel (pip download vllm==VERSION --no-deps)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vllm-options-") as folder:
        unpack(args.wheel, Path(folder))
        schema = serve_options(Path(folder))
    sys.stdout.write(dumps(schema))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
