"""Where a run's effective config may point its trainer: every path-valued key, confined.

The effective config (the training YAML, the project's default hyperparameters, the
run's own, and what the platform sets) is read by a trainer that can open anything
the platform's user can. So every value of it that names a file or folder must lie
in a folder the run may use: the training directory (`HOST_TRAINING_DIR`), the run's
own folder, the models folder (`MODELS_DIR`), or one of its project's checkpoints.
The deepest of these folders and of the platform's own (`RUNS_DIR`, which holds every
project's runs, and `DATA_DIR`) that holds a path decides, so the runs folder stays
out of bounds even where it lies inside the training directory.

Which keys are path-valued is written once, in trainer_path_keys.json, derived from
the trainers' own argument definitions by scripts/derive_trainer_path_keys.py; a key
ending like a path key (`*_dir`, `*_path`...) counts too, at any depth, so an inline
DeepSpeed config's `nvme_path` is confined like a top-level `dataset_dir`.

How a value is read, as the trainers read it:
- Relative to the training directory, the trainer's working directory. A Hugging
  Face hub id (`Qwen/Qwen2.5-7B`) is a relative path to this check, as it is to the
  trainers, which try it as a local folder first: it passes unless it resolves,
  through a symlink, outside.
- Symlinks are resolved before the check. `..` segments are refused outright, as are
  `~`, URLs (`file:`, `s3://`, `hf://`), percent escapes and control characters
  (projects.training_files.path_problem): an executor may run the trainer in a
  deeper working directory (Docker's), where `..` would lead elsewhere.
- A string is checked whole and each of its comma-separated parts, as LLaMA-Factory
  splits `dataset: a,b` and `adapter_name_or_path`; lists are checked item by item.
- A key of kind "path_or_inline" (`deepspeed`, `fsdp_config`) takes a file's path or
  the config itself, as a mapping, JSON text or base64 JSON (transformers decodes
  all three); an inline config is checked like the rest.

Booleans, numbers and null are no paths (`resume_from_checkpoint: true`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from llmplatform.sentences import gettext_noop
from projects.training_files import path_problem

KEYS_FILE = Path(__file__).with_name("trainer_path_keys.json")
PATH, PATH_OR_INLINE = "path", "path_or_inline"
# What the console translates after the quoted value (see llmplatform.sentences.translate).
IS_OUTSIDE = gettext_noop(
    "is outside the training directory, the run's own folder, the models folder and the project's checkpoints"
)
OUTSIDE = IS_OUTSIDE.removeprefix("is ")


@dataclass(frozen=True)
class PathKeys:
    kinds: Mapping[str, str]
    name_suffixes: tuple[str, ...]

    def kind_of(self, key: str) -> str | None:
        """PATH or PATH_OR_INLINE for a path-valued key, else None."""
        return self.kinds.get(key) or (PATH if key.endswith(self.name_suffixes) else None)


@functools.cache
def path_keys() -> PathKeys:
    document = json.loads(KEYS_FILE.read_text(encoding="utf-8"))
    kinds = {key: entry["kind"] for key, entry in document["keys"].items()}
    return PathKeys(kinds=kinds, name_suffixes=tuple(document["name_suffixes"]))


class Confinement:
    """The folders a run's trainer may be pointed at, and the platform's own around them (all resolved).

    The deepest folder holding a path decides (a tie goes to the platform's). The
    project's checkpoints lie in the platform's RUNS_DIR; they are looked up only for
    a path the folders refuse, as a project may have thousands.
    """

    def __init__(self, *, allowed: Iterable[str | Path], denied: Iterable[str | Path], checkpoints: Iterable[str]):
        self.allowed = [Path(folder).resolve() for folder in allowed]
        self.denied = [Path(folder).resolve() for folder in denied]
        self._checkpoints = checkpoints

    @classmethod
    def for_run(cls, *, run_dir: Path, checkpoints: Iterable[str]) -> Confinement:
        return cls(
            allowed=[settings.HOST_TRAINING_DIR, settings.MODELS_DIR, run_dir],
            denied=[settings.RUNS_DIR, settings.DATA_DIR],
            checkpoints=checkpoints,
        )

    @functools.cached_property
    def checkpoints(self) -> list[Path]:
        """The checkpoints' folders that lie in RUNS_DIR through no symlink, as the platform makes them."""
        runs = Path(settings.RUNS_DIR)
        folders = (Path(folder) for folder in self._checkpoints)
        return [
            folder.resolve()
            for folder in folders
            if folder.is_relative_to(runs) and folder.resolve() == runs.resolve() / folder.relative_to(runs)
        ]

    def admits(self, path: Path) -> bool:
        holders = [(len(root.parts), False) for root in self.allowed if path.is_relative_to(root)]
        holders += [(len(root.parts), True) for root in self.denied if path.is_relative_to(root)]
        if holders and not max(holders)[1]:
            return True
        return any(path.is_relative_to(checkpoint) for checkpoint in self.checkpoints)


def inline_config(text: str) -> dict[str, Any] | None:
    """The config a trainer reads out of a string that is not a path: JSON text or base64 JSON, else None."""
    try:
        decoded = text if text.lstrip().startswith("{") else base64.urlsafe_b64decode(text).decode("utf-8")
        config = json.loads(decoded)
    except (ValueError, binascii.Error, RecursionError):  # not JSON, not base64, or nested beyond the parser
        return None
    return config if isinstance(config, dict) else None


def value_problem(value: str, *, cwd: Path, confinement: Confinement) -> str | None:
    """Why the trainer must not be pointed at `value` (it, or one of its comma-separated parts), or None."""
    parts = [value, *(part.strip() for part in value.split(","))] if "," in value else [value]
    for part in parts:
        if not part:
            continue
        problem = path_problem(part)
        if problem is None:
            try:
                resolved = (cwd / part).resolve()
            except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name the system refuses
                return gettext_noop("{part!r} cannot be resolved ({error})").format(
                    part=part, error=exc.__class__.__name__
                )
            if not confinement.admits(resolved):
                return f"{part!r} {IS_OUTSIDE}"
        if problem:
            return f"{part!r} {problem}"
    return None


def confinement_problems(
    config: Mapping[str, Any], *, confinement: Confinement, cwd: Path, origin: Mapping[str, str]
) -> list[str]:
    """One sentence per value of `config` that points the trainer outside `confinement`.

    `origin` names where each top-level key came from ("hyperparameters", "the training
    YAML 'configs/x.yaml'"), for the sentence.
    """
    keys = path_keys()
    problems: list[str] = []
    # (top-level key, where inside it, kind, value); a list's items keep its kind, a mapping's are judged by key.
    stack: list[tuple[str, str, str | None, Any]] = [
        (str(key), str(key), keys.kind_of(str(key)), value) for key, value in config.items()
    ]
    while stack:
        top, where, kind, value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend((top, f"{where}.{key}", keys.kind_of(str(key)), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((top, f"{where}[{index}]", kind, item) for index, item in enumerate(value))
        elif isinstance(value, str) and kind is not None and value:
            inline = inline_config(value) if kind == PATH_OR_INLINE else None
            if inline is not None:
                stack.append((top, where, None, inline))
                continue
            problem = value_problem(value, cwd=cwd, confinement=confinement)
            if problem:
                problems.append(
                    gettext_noop("{origin} key {key!r}: {problem}").format(
                        origin=origin.get(top, gettext_noop("the platform")), key=where, problem=problem
                    )
                )
    return sorted(problems)
