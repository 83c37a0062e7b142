"""What the compare page shows about runs side by side: each run's colour, the parameters that differ,
and each metric's final and best value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from runs.launch import launched_parameters
from runs.metric_series import MetricSummary, best_direction, metric_summaries
from runs.models import Run

# Colours told apart by most eyes, colour-blind ones included, on white; as many as runs compared at most.
PALETTE = ["#2457c5", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#e67700", "#5c940d", "#495057", "#a61e4d"]

# The run's own fields worth comparing, before its effective config and resources.
RUN_FIELDS: list[tuple[str, Promise]] = [
    ("model", _("Model")),
    ("dataset", _("Dataset")),
    ("training_yaml_name", _("Training YAML")),
    ("executor", _("Executor")),
]


def run_colours(runs: list[Run]) -> dict[UUID, str]:
    """One colour per run, from its id: the same run gets the same colour on every chart and table, whatever
    order the runs were picked in; a run whose colour an older run already has takes the next free one."""
    colours: dict[UUID, str] = {}
    taken: set[int] = set()
    for run in sorted(runs, key=lambda run: (run.created_at, run.pk)):
        index = run.pk.int % len(PALETTE)
        while index in taken and len(taken) < len(PALETTE):
            index = (index + 1) % len(PALETTE)
        taken.add(index)
        colours[run.pk] = PALETTE[index]
    return colours


def shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def run_parameters(run: Run) -> dict[str, str]:
    """The run's parameters as `label → shown value`: its own fields, then each key of the config it trains
    with (its training YAML's values under its overrides), then `resources.<key>`."""
    parameters = {str(label): shown(getattr(run, field)) for field, label in RUN_FIELDS}
    for key, value in sorted(launched_parameters(run).items()):
        parameters[key] = shown(value)
    for key, value in sorted((run.resources or {}).items()):
        parameters[f"resources.{key}"] = shown(value)
    return parameters


@dataclass(frozen=True, slots=True)
class ParameterRow:
    name: str
    values: list[str]  # one per run, in the page's order

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


def parameter_rows(runs: list[Run]) -> list[ParameterRow]:
    """Every parameter any of the runs has, with each run's value ("—" where it has none)."""
    per_run = [run_parameters(run) for run in runs]
    names = list(dict.fromkeys(name for parameters in per_run for name in parameters))
    return [ParameterRow(name, [parameters.get(name, "—") for parameters in per_run]) for name in names]


@dataclass(frozen=True, slots=True)
class MetricRow:
    name: str
    direction: str | None  # "min", "max": which way is best
    cells: list[MetricSummary | None]  # one per run, in the page's order


def metric_order(name: str) -> tuple[int, int, str]:
    """Loss first, training before evaluation, then system readings and end-of-training summaries."""
    section = 1 if name.startswith(("eval", "test")) else 2 if name.startswith(("gpu/", "system/")) else 0
    section = 3 if name.startswith("summary/") else section
    return (section, 0 if name.rsplit("/", 1)[-1].endswith("loss") else 1, name)


def metric_rows(runs: list[Run]) -> list[MetricRow]:
    summaries = metric_summaries([run.pk for run in runs])
    names = sorted({name for by_name in summaries.values() for name in by_name}, key=metric_order)
    return [
        MetricRow(name, best_direction(name), [summaries.get(run.pk, {}).get(name) for run in runs]) for name in names
    ]
