"""Training YAML: the one schema per task type (llmplatform.training_yaml loads the file).

Public functions:
- `inspect_training_yaml(mapping, task_type=None) -> TrainingYamlReport`: the task type
  (declared, or inferred from LLaMA-Factory's `stage`/`finetuning_type`), problems
  (refuse), warnings (recommended keys missing), and the canonical values.
- `check_training_yaml(mapping, task_type=None) -> list[str]`: just the problems.

Real trainers name the same things differently (LLaMA-Factory, Hugging Face): each key
lists its aliases, and unknown keys always pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from datasets.models import TaskType
from llmplatform.sentences import MUST_BE_ONE_OF, NON_EMPTY_STRING, gettext_noop, range_text
from llmplatform.training_yaml import quoted

# How much a run needs a key: refused without it, warned without it, or checked only when set.
REQUIRED, RECOMMENDED, OPTIONAL = "required", "recommended", "optional"


@dataclass(frozen=True)
class Key:
    name: str
    kind: str  # "string", "integer", "number", "boolean", "modules" (a string or a list of strings)
    need: str = RECOMMENDED
    aliases: tuple[str, ...] = ()
    minimum: float | None = None
    minimum_exclusive: bool = False
    maximum: float | None = None
    maximum_exclusive: bool = False
    choices: tuple[str, ...] = ()
    # Required only when this says so (e.g. a reward model for PPO).
    required_if: Callable[[dict[str, Any]], bool] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def _positive(name: str, kind: str = "integer", **options: Any) -> Key:
    return Key(name, kind, minimum=0, minimum_exclusive=True, **options)


def _learning_rate(**options: Any) -> Key:
    return Key("learning_rate", "number", minimum=0, minimum_exclusive=True, maximum=1, **options)


def _ratio(name: str, **options: Any) -> Key:
    return Key(name, "number", minimum=0, maximum=1, **options)


MODEL_ALIASES = ("model_name_or_path", "model_name", "base_model", "model")
DATASET_ALIASES = ("dataset_name", "dataset_path", "train_file", "data_path")
SEQUENCE_ALIASES = ("cutoff_len", "max_seq_length", "max_length", "model_max_length", "seq_length", "block_size")
RL_ALGORITHMS = ("ppo", "dpo", "grpo", "kto", "orpo", "simpo", "rm", "reinforce", "rloo", "ipo")


def _aliases_without(name: str, aliases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(alias for alias in aliases if alias != name)


# The one schema per task type: what each key is, its aliases, its type and range, and
# how much a run needs it. Required: model and dataset (and the algorithm for rl) - no
# trainer starts without them. Recommended: the task's other usual keys - trainers
# have defaults, so a missing one is a warning. Optional: checked only when present.
SCHEMAS: dict[str, tuple[Key, ...]] = {
    TaskType.SFT: (
        Key("model_name", "string", need=REQUIRED, aliases=_aliases_without("model_name", MODEL_ALIASES)),
        Key("dataset", "string", need=REQUIRED, aliases=DATASET_ALIASES),
        _positive("max_seq_length", aliases=_aliases_without("max_seq_length", SEQUENCE_ALIASES)),
        _positive("per_device_train_batch_size", aliases=("train_batch_size", "batch_size")),
        _learning_rate(),
        _positive("num_train_epochs", "number", aliases=("epochs",)),
        _positive("gradient_accumulation_steps", need=OPTIONAL),
        _ratio("warmup_ratio", need=OPTIONAL),
    ),
    TaskType.LORA: (
        Key("base_model", "string", need=REQUIRED, aliases=_aliases_without("base_model", MODEL_ALIASES)),
        Key("dataset", "string", need=REQUIRED, aliases=DATASET_ALIASES),
        _positive("lora_r", aliases=("lora_rank", "r")),
        _positive("lora_alpha", "number"),
        Key("lora_dropout", "number", minimum=0, maximum=1, maximum_exclusive=True),
        _positive("train_batch_size", aliases=("per_device_train_batch_size", "batch_size")),
        _positive("gradient_accumulation_steps"),
        Key("use_8bit", "boolean", need=OPTIONAL, aliases=("load_in_8bit",)),
        Key("peft_target_modules", "modules", need=OPTIONAL, aliases=("lora_target", "target_modules")),
        Key("bnb_4bit_quant_type", "string", need=OPTIONAL, choices=("nf4", "fp4")),
        _learning_rate(need=OPTIONAL),
    ),
    TaskType.RL: (
        Key("algorithm", "string", need=REQUIRED, aliases=("stage", "rl_algorithm"), choices=RL_ALGORITHMS),
        Key("policy_model", "string", need=REQUIRED, aliases=_aliases_without("policy_model", MODEL_ALIASES)),
        Key(
            "reward_model",
            "string",
            need=OPTIONAL,
            aliases=("reward_model_name_or_path",),
            required_if=lambda values: values.get("algorithm") == "ppo",
        ),
        Key("dataset", "string", need=REQUIRED, aliases=DATASET_ALIASES),
        _positive("rollout_batch_size", aliases=("ppo_buffer_size",)),
        _positive("update_epochs", aliases=("ppo_epochs",)),
        Key("kl_target", "number", minimum=0, aliases=("ppo_target", "kl_coef", "pref_beta")),
        _learning_rate(need=OPTIONAL),
    ),
    TaskType.PRETRAIN: (
        Key("model_name", "string", need=REQUIRED, aliases=_aliases_without("model_name", MODEL_ALIASES)),
        Key("dataset", "string", need=REQUIRED, aliases=DATASET_ALIASES),
        _positive("sequence_length", aliases=SEQUENCE_ALIASES),
        _positive("global_batch_size"),
        _learning_rate(),
        _ratio("warmup_ratio"),
        Key("tokenizer", "string", aliases=("tokenizer_name_or_path", "tokenizer_name")),
    ),
}


@dataclass
class TrainingYamlReport:
    task_type: str | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Canonical key name -> value, for the keys the schema knows and the YAML sets.
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset(self) -> str | None:
        value = self.values.get("dataset")
        return value if isinstance(value, str) else None


def infer_task_type(mapping: dict[str, Any]) -> str | None:
    """The task type a YAML declares, or the one LLaMA-Factory's keys imply."""
    declared = mapping.get("task_type")
    if declared is not None:
        return str(declared)
    stage = str(mapping.get("stage", "")).lower()
    finetuning = str(mapping.get("finetuning_type", "")).lower()
    if stage in RL_ALGORITHMS or "algorithm" in mapping:
        return TaskType.RL
    if stage == "pt":
        return TaskType.PRETRAIN
    if finetuning == "lora":
        return TaskType.LORA
    if stage == "sft" or finetuning in {"full", "freeze"}:
        return TaskType.SFT
    return None


def _number(value: Any) -> float | None:
    """YAML 1.1 reads `2e-5` as a string; trainers accept it as a number, so do we."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _range_text(key: Key) -> str:
    return range_text(key.minimum, key.minimum_exclusive, key.maximum, key.maximum_exclusive)


def _value_problem(key: Key, value: Any) -> str | None:
    if key.kind == "string":
        if not isinstance(value, str) or not value.strip():
            return NON_EMPTY_STRING
        if key.choices and value.lower() not in key.choices:
            return gettext_noop("must be one of {choices}").format(choices=", ".join(key.choices))
        return None
    if key.kind == "boolean":
        return None if isinstance(value, bool) else gettext_noop("must be true or false")
    if key.kind == "modules":
        ok = (isinstance(value, str) and value.strip()) or (
            isinstance(value, list) and value and all(isinstance(item, str) and item for item in value)
        )
        return None if ok else gettext_noop("must be a module name, a comma-separated list, or a list of names")
    number = _number(value)
    if number is None or (key.kind == "integer" and not number.is_integer()):
        return gettext_noop("must be an integer") if key.kind == "integer" else gettext_noop("must be a number")
    too_low = key.minimum is not None and (number <= key.minimum if key.minimum_exclusive else number < key.minimum)
    too_high = key.maximum is not None and (number >= key.maximum if key.maximum_exclusive else number > key.maximum)
    return gettext_noop("must be {range}").format(range=_range_text(key)) if too_low or too_high else None


def _named(key: Key) -> str:
    return (
        gettext_noop("{name} (or {aliases})").format(name=key.name, aliases=", ".join(key.aliases))
        if key.aliases
        else key.name
    )


def inspect_training_yaml(mapping: dict[str, Any], task_type: str | None = None) -> TrainingYamlReport:
    """Check a parsed training YAML against the schema of its task type.

    `task_type` is a fallback (e.g. the project's) for a YAML that neither declares
    nor implies one; a YAML that does wins, with a warning when the two differ.
    """
    inferred = infer_task_type(mapping)
    report = TrainingYamlReport(task_type=inferred or task_type)
    if inferred and task_type and inferred != task_type:
        report.warnings.append(
            gettext_noop("task_type: the YAML is for {inferred} but {expected!r} was expected").format(
                inferred=quoted(inferred), expected=task_type
            )
        )
    if report.task_type is None:
        report.problems.append(
            gettext_noop(
                "task_type: missing; set task_type (sft, lora, rl, pretrain) or LLaMA-Factory's stage/finetuning_type"
            )
        )
        return report
    if report.task_type not in SCHEMAS:
        report.problems.append(
            "task_type: " + MUST_BE_ONE_OF.format(choices=", ".join(SCHEMAS), got=quoted(report.task_type))
        )
        report.task_type = None
        return report
    keys = SCHEMAS[report.task_type]
    for key in keys:
        present = next((name for name in key.names if name in mapping), None)
        if present is None:
            continue
        value = mapping[present]
        if problem := _value_problem(key, value):
            report.problems.append(
                gettext_noop("{key}: {problem}, got {got}").format(key=present, problem=problem, got=quoted(value))
            )
        else:
            report.values[key.name] = value.lower() if key.choices else value
    for key in keys:
        if key.name in report.values or any(name in mapping for name in key.names):
            continue
        if key.need == REQUIRED or (key.required_if is not None and key.required_if(report.values)):
            report.problems.append(
                gettext_noop("{key}: required for {task_type}").format(key=_named(key), task_type=report.task_type)
            )
        elif key.need == RECOMMENDED:
            report.warnings.append(
                gettext_noop("{key}: recommended for {task_type}, not set").format(
                    key=_named(key), task_type=report.task_type
                )
            )
    return report


def check_training_yaml(mapping: dict[str, Any], task_type: str | None = None) -> list[str]:
    """The problems that stop `mapping` from being used as a training config ([] when fine)."""
    return inspect_training_yaml(mapping, task_type).problems
