"""Pre-flight: a run's effective config checked against its trainer's arguments before the run is queued.

A trainer refuses a config it cannot parse only once the run has started: LLaMA-Factory's
`HfArgumentParser.parse_dict` fails on any key none of its dataclasses defines, and
hands values over as they are, so `learning_rate: '1e-3'` (text: YAML 1.1 reads `1e-3`
as a string) fails at the first optimizer step. This module refuses the same configs
at launch, naming each key: unknown keys with the nearest known one, wrong types,
values outside the range a run can train with.

Which keys each trainer family takes, with their types and choices, is generated from
the trainers' own dataclasses into trainer_arguments.json by
scripts/trainer_arguments_schema.py. What is reviewed by hand lives here: how strict
each family is (UNKNOWN_KEYS_REFUSED), the names other trainers give the same
arguments (ALIASES), and the ranges (RANGES).

The project says which trainer its runs use (`Project.trainer_in_effect`):
- "llamafactory-0.9.x": every key must be one of LLaMA-Factory's, as its parser demands;
- "hf-trainer": a script of one's own around `transformers.Trainer`, which reads
  `TrainingArguments` and keys of its own: the `TrainingArguments` keys are checked, and
  a key is refused only where it is another trainer's name for one of them;
- "unchecked": a trainer the platform knows nothing about.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmplatform.errors import InvalidInput
from llmplatform.sentences import JOINED, MUST_BE, MUST_BE_ONE_OF, OR, gettext_noop, range_text
from llmplatform.training_yaml import quoted
from projects.models import Project, TrainerKind

SCHEMA_FILE = Path(__file__).with_name("trainer_arguments.json")
# Families whose parser fails on a key it does not define; the others' scripts read keys of their own.
UNKNOWN_KEYS_REFUSED = frozenset({TrainerKind.LLAMAFACTORY})

# Names other trainers (and this platform's own YAML schema) give an argument these trainers
# call otherwise; difflib alone would offer `auto_find_batch_size` for `batch_size`. An alias
# applies where the family defines its target.
ALIASES: dict[str, str] = {
    "batch_size": "per_device_train_batch_size",  # Keras, PyTorch Lightning, torchtune
    "train_batch_size": "per_device_train_batch_size",  # DeepSpeed, OpenRLHF
    "eval_batch_size": "per_device_eval_batch_size",  # DeepSpeed, OpenRLHF
    "num_epochs": "num_train_epochs",  # torchtune (`epochs`), Axolotl
    "epochs": "num_train_epochs",  # Keras, torchtune
    "lr": "learning_rate",  # torchtune, Axolotl's optimizer section
    "max_seq_length": "cutoff_len",  # TRL's SFTConfig, Axolotl (`sequence_len`), the platform's SFT schema
    "model_name": "model_name_or_path",  # TRL's scripts, the platform's SFT schema
    "lora_r": "lora_rank",  # Axolotl; PEFT's LoraConfig calls it `r`
    "target_modules": "lora_target",  # PEFT's LoraConfig
}


# Sentences of the catalog (see llmplatform.sentences).
UNKNOWN_TO = gettext_noop("is unknown to {schema}")
NOT_CALLED = gettext_noop("is not what {schema} calls it")


@dataclass(frozen=True)
class Range:
    minimum: float | None = None
    minimum_exclusive: bool = False
    maximum: float | None = None
    maximum_exclusive: bool = False

    def admits(self, number: float) -> bool:
        if self.minimum is not None and (number <= self.minimum if self.minimum_exclusive else number < self.minimum):
            return False
        return not (
            self.maximum is not None and (number >= self.maximum if self.maximum_exclusive else number > self.maximum)
        )

    def __str__(self) -> str:
        return range_text(self.minimum, self.minimum_exclusive, self.maximum, self.maximum_exclusive)


POSITIVE, AT_LEAST_ONE, NOT_NEGATIVE = Range(0, minimum_exclusive=True), Range(1), Range(0)
RATIO = Range(0, maximum=1)
# Values no run trains with: a step of zero, an empty batch, a ratio above one. The
# trainers' own `__post_init__` refuses some of them; the others fail or do nothing later.
RANGES: dict[str, Range] = {
    "learning_rate": POSITIVE,
    "num_train_epochs": POSITIVE,
    "per_device_train_batch_size": AT_LEAST_ONE,
    "per_device_eval_batch_size": AT_LEAST_ONE,
    "gradient_accumulation_steps": AT_LEAST_ONE,
    "max_steps": Range(-1),  # -1: train for num_train_epochs
    "logging_steps": POSITIVE,
    "save_steps": POSITIVE,
    "eval_steps": POSITIVE,
    "warmup_ratio": RATIO,
    "warmup_steps": NOT_NEGATIVE,
    "weight_decay": NOT_NEGATIVE,
    "max_grad_norm": NOT_NEGATIVE,
    "seed": NOT_NEGATIVE,
    "cutoff_len": AT_LEAST_ONE,
    "max_samples": AT_LEAST_ONE,
    "val_size": NOT_NEGATIVE,
    "lora_rank": AT_LEAST_ONE,
    "lora_alpha": AT_LEAST_ONE,
    "lora_dropout": Range(0, maximum=1, maximum_exclusive=True),
    "preprocessing_num_workers": AT_LEAST_ONE,
    "dataloader_num_workers": NOT_NEGATIVE,
}
YAML_TYPES = {
    "boolean": gettext_noop("true or false"),
    "integer": gettext_noop("an integer"),
    "number": gettext_noop("a number"),
    "string": gettext_noop("a string"),
    "mapping": gettext_noop("a mapping"),
    "list": gettext_noop("a list"),
    "null": "null",
}


@dataclass(frozen=True)
class TrainerSchema:
    kind: str
    name: str  # "LLaMA-Factory 0.9.5"
    arguments: Mapping[str, Mapping[str, Any]]

    @property
    def refuses_unknown_keys(self) -> bool:
        return self.kind in UNKNOWN_KEYS_REFUSED

    def nearest(self, key: str) -> str | None:
        """The known key `key` most likely stands for: another trainer's name for it, else the closest spelling."""
        if ALIASES.get(key) in self.arguments:
            return ALIASES[key]
        close = difflib.get_close_matches(key, list(self.arguments), n=1, cutoff=0.7)
        return close[0] if close else None


@functools.cache
def trainer_schemas() -> dict[str, TrainerSchema]:
    document = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return {
        kind: TrainerSchema(kind=kind, name=entry["name"], arguments=entry["arguments"])
        for kind, entry in document["trainers"].items()
    }


def schema_for(trainer: str) -> TrainerSchema | None:
    """The argument schema of a trainer kind; None for "unchecked"."""
    return trainer_schemas().get(trainer)


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    origin: str  # "hyperparameters", "the training YAML 'configs/x.yaml'"
    problem: str
    nearest: str | None = None

    @property
    def sentence(self) -> str:
        if self.nearest:
            sentence = gettext_noop("{origin} key {key!r} {problem}; did you mean {nearest!r}?")
        else:
            sentence = gettext_noop("{origin} key {key!r} {problem}")
        return sentence.format(origin=self.origin, key=self.key, problem=self.problem, nearest=self.nearest)

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "origin": self.origin, "problem": self.problem, "nearest": self.nearest}


def _yaml_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "mapping" if isinstance(value, Mapping) else "list" if isinstance(value, list) else "any"


def _looks_like_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def shown(value: Any) -> str:
    """A value as the config's author wrote it: YAML's and JSON's `true` and `null`, Python's repr otherwise."""
    return json.dumps(value) if value is None or isinstance(value, bool) else quoted(value)


def value_problem(key: str, value: Any, argument: Mapping[str, Any]) -> str | None:
    """Why `value` cannot be given as `key` of this schema entry, or None."""
    types: list[str] = argument["types"]
    if "any" in types:
        return None
    kind = _yaml_type(value)
    fits = kind in types or (kind == "integer" and "number" in types)
    if not fits:
        wanted = OR.join(YAML_TYPES[name] for name in types)
        if kind == "string" and {"integer", "number"} & set(types) and _looks_like_number(value):
            return gettext_noop(
                "must be {expected}, not the text {text} "
                "(YAML reads 1e-3 as text: write 1.0e-3, or give the number in JSON)"
            ).format(expected=wanted, text=quoted(value))
        return MUST_BE.format(expected=wanted, got=shown(value))
    choices = argument.get("choices")
    if choices and kind == "string" and value not in choices:
        return MUST_BE_ONE_OF.format(choices=", ".join(choices), got=shown(value))
    allowed = RANGES.get(key)
    if allowed is not None and kind in {"integer", "number"} and not allowed.admits(float(value)):
        return MUST_BE.format(expected=allowed, got=shown(value))
    return None


def config_problems(
    config: Mapping[str, Any], *, schema: TrainerSchema, origin: Mapping[str, str]
) -> list[ConfigProblem]:
    """What in `config` the trainer of `schema` would refuse, key by key (`origin` says where each key came from)."""
    problems = []
    for key, value in config.items():
        where = origin.get(key, gettext_noop("the platform's"))
        argument = schema.arguments.get(key)
        if argument is None:
            nearest = schema.nearest(key)
            if schema.refuses_unknown_keys:
                problems.append(ConfigProblem(key, where, UNKNOWN_TO.format(schema=schema.name), nearest))
            elif nearest is not None and ALIASES.get(key) == nearest:
                problems.append(ConfigProblem(key, where, NOT_CALLED.format(schema=schema.name), nearest))
            continue
        problem = value_problem(key, value, argument)
        if problem:
            problems.append(ConfigProblem(key, where, problem))
    return problems


def trainer_of_upload(mapping: Mapping[str, Any], project: Project | None) -> str:
    """The trainer an uploaded training YAML is checked against: its project's, else LLaMA-Factory for a YAML
    that sets LLaMA-Factory's own `stage` or `finetuning_type` (no other trainer reads them), else unchecked."""
    if project is not None:
        return project.trainer_in_effect
    if {"stage", "finetuning_type"} & set(mapping):
        return TrainerKind.LLAMAFACTORY.value
    return TrainerKind.UNCHECKED.value


def refuse_unfit_config(config: Mapping[str, Any], *, trainer: str, origin: Mapping[str, str], what: str) -> None:
    """InvalidInput naming each key of `config` (`what`: "The run's config") its trainer would refuse.

    The refusal carries `config_problems`: one object per key with `key`, `origin`,
    `problem` and `nearest` (the known key it probably means, or null).
    """
    schema = schema_for(trainer)
    if schema is None:
        return
    problems = config_problems(config, schema=schema, origin=origin)
    if problems:
        raise InvalidInput(
            gettext_noop(
                "{what} does not fit {schema} (trainer {trainer!r}; a project whose trainer is another sets "
                "trainer 'unchecked'): {sentences}."
            ).format(
                what=what, schema=schema.name, trainer=trainer, sentences=JOINED.join(p.sentence for p in problems)
            ),
            config_problems=[problem.as_json() for problem in problems],
            trainer=trainer,
        )
