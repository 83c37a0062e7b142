"""What `vllm serve` accepts: its options as vLLM defines them, read from vllm_options.json.

scripts/vllm_options_schema.py writes that file from a vLLM wheel; it names the vLLM
version it describes. This module only says what exists (spellings, how many values,
of which type, from which choices); vllm_policy.py says what users may pass.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("vllm_options.json")


@dataclass(frozen=True)
class VllmOption:
    """One option of `vllm serve`; `name` is its first spelling, the one the policy uses."""

    names: tuple[str, ...]  # the spellings that set it (`--tensor-parallel-size`, `-tp`)
    negations: tuple[str, ...]  # the spellings that unset a boolean (`--no-enforce-eager`)
    values: int | str  # 0: a flag; 1: one value; argparse's nargs otherwise ("?", "+")
    type: str  # how vLLM reads a value: int, float, str, json, human-int, ... ("" for flags)
    choices: tuple[str | int | float, ...] | None  # what argparse accepts, when it restricts
    suggestions: tuple[str, ...] | None  # values vLLM knows for a free string (quantization methods...)

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def known_values(self) -> tuple[str | int | float, ...] | None:
        return self.choices if self.choices is not None else self.suggestions


@dataclass(frozen=True)
class VllmOptions:
    version: str
    options: tuple[VllmOption, ...]

    @functools.cached_property
    def _by_spelling(self) -> dict[str, VllmOption]:
        return {spelling: option for option in self.options for spelling in (*option.names, *option.negations)}

    def lookup(self, spelling: str) -> VllmOption | None:
        """The option a spelling (positive, negated or short) sets, or None when vLLM has no such option."""
        return self._by_spelling.get(spelling)

    def spellings(self) -> Iterator[str]:
        return iter(self._by_spelling)


def _option(entry: dict) -> VllmOption:
    def maybe_tuple(key: str) -> tuple | None:
        return tuple(entry[key]) if entry.get(key) is not None else None

    return VllmOption(
        names=tuple(entry["names"]),
        negations=tuple(entry["negations"]),
        values=entry["values"],
        type=entry.get("type", ""),
        choices=maybe_tuple("choices"),
        suggestions=maybe_tuple("suggestions"),
    )


@functools.cache
def vllm_options(path: Path = SCHEMA_PATH) -> VllmOptions:
    schema = json.loads(path.read_text())
    return VllmOptions(version=schema["vllm_version"], options=tuple(_option(entry) for entry in schema["options"]))
