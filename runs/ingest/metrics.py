"""Metric names, the printed Hugging Face log dicts, and storing points.

Names follow one rule whatever the source, so a chart of `train/loss` looks the same
for LLaMA-Factory, a `transformers.Trainer` script and a hand-written `metrics.jsonl`:

- a key that already has a `/` (`rewards/chosen`, `reward/mean`) is kept;
- `eval_loss` → `eval/loss`, `test_…`/`predict_…` → `test/…`, `train_…` → `train/…`;
- the end-of-training summary (`train_runtime`, `train_loss` = mean loss…) → `summary/…`;
- anything else (`loss`, `learning_rate`, `grad_norm`, `epoch`) → `train/…`.

Values may be numbers or numeric strings (transformers 5 prints `'5.767'`); anything
not a finite number is skipped (SQLite cannot store NaN, JSON cannot carry it).
"""

from __future__ import annotations

import ast
import functools
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from django.db import connection

from runs.ingest.times import as_datetime
from runs.models import MetricPoint

# Bookkeeping in the dicts, not metrics.
_NOT_METRICS = frozenset({"step", "total_flos", "current_flos"})
# An evaluation's or the summary's epoch is not a point on the training curve.
_NOT_METRICS_WITH_EPOCH = _NOT_METRICS | {"epoch"}
_EVALUATION_KEY = re.compile("eval_|test_|predict_")
# What makes a printed dict a training log rather than, say, a config dump.
_LOG_KEYS = frozenset({"loss", "learning_rate", "grad_norm", "epoch"})
_SPLIT_PREFIXES = {"eval_": "eval/", "test_": "test/", "predict_": "test/", "train_": "train/"}
MAX_DICT_CHARS = 20_000
# `{'loss': '5.767', 'epoch': 0.5}`: quoted keys, quoted or bare scalar values, nothing nested.
_FLAT_VALUE = r"(?:'([^'\\]*)'|([-+\w.]+))"
_FLAT_DICT = re.compile(rf"\{{'[^'\\]*': {_FLAT_VALUE}(?:, '[^'\\]*': {_FLAT_VALUE})*\}}")
_FLAT_ITEM = re.compile(rf"'([^'\\]*)': {_FLAT_VALUE}")


class MetricSample(NamedTuple):
    """A tuple, not a dataclass: a trainer's metrics file brings tens of thousands per pass."""

    name: str
    step: int
    value: float
    at: float | None = None  # when the trainer wrote it (seconds since the epoch), when known (runs.ingest.times)


def metric_name(key: str, *, summary: bool = False) -> str:
    return _metric_name(key, summary)


@functools.lru_cache(maxsize=4096)  # the same keys come back in every record
def _metric_name(key: str, summary: bool) -> str:
    if "/" in key:
        return key
    if summary:
        return "summary/" + key.removeprefix("train_")
    for prefix, split in _SPLIT_PREFIXES.items():
        if key.startswith(prefix):
            return split + key[len(prefix) :]
    return "train/" + key


def samples_from_dict(values: Mapping[str, object], *, step: int, at: float | None = None) -> list[MetricSample]:
    """The numeric entries of one logged dict, named by the rule above."""
    summary = "train_runtime" in values
    evaluation = any(map(_EVALUATION_KEY.match, values))
    skipped = _NOT_METRICS_WITH_EPOCH if summary or evaluation else _NOT_METRICS
    # One comprehension: a metrics file's record holds a hundred values, and there is one record per step.
    return [
        MetricSample(_metric_name(key, summary), step, value, at)
        for key, raw in values.items()
        if key not in skipped and (value := as_number(raw)) is not None
    ]


def parse_log_dict(line: str) -> dict[str, object] | None:
    """A dict printed by `Trainer.log` (`{'loss': '5.767', 'epoch': '0.125'}`), else None."""
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")) or len(text) > MAX_DICT_CHARS:
        return None
    if _FLAT_DICT.fullmatch(text):  # the usual shape: a regex is 40× faster than the parser
        parsed: object = {key: quoted or bare for key, quoted, bare in _FLAT_ITEM.findall(text)}
    else:
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    if not isinstance(parsed, dict) or not all(isinstance(key, str) for key in parsed):
        return None
    if not any(key in _LOG_KEYS or key.startswith(tuple(_SPLIT_PREFIXES)) for key in parsed):
        return None
    return parsed


def as_number(raw: object) -> float | None:
    if type(raw) is float:  # the usual value, first
        return raw if math.isfinite(raw) else None
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None


def store_points(run_id: uuid.UUID, samples: Iterable[MetricSample], *, at: datetime) -> None:
    """Upsert: one row per (name, step), the last write wins (a resumed trainer logs steps again).

    A point is stamped with the time the trainer wrote it, `at` (the time of reading) where that is unknown.
    One `INSERT … ON CONFLICT … DO UPDATE`, not `bulk_create`: building and compiling a model
    instance per point costs several times what the database does. PostgreSQL takes all rows
    as arrays in one statement (`executemany` there is one statement per row); SQLite runs it
    per row with `executemany`, inside the process.
    """
    latest: dict[tuple[str, int], MetricSample] = {}
    for sample in samples:
        latest[(sample.name, sample.step)] = sample  # one row per key per statement
    if not latest:
        return
    meta = MetricPoint._meta
    timestamp = meta.get_field("timestamp")
    run_value = meta.get_field("run").target_field.get_db_prep_value(run_id, connection)
    read_at = timestamp.get_db_prep_value(at, connection)
    # The points of one record share its time: each time is converted once.
    stamps = {
        seconds: read_at if seconds is None else timestamp.get_db_prep_value(as_datetime(seconds), connection)
        for seconds in {sample.at for sample in latest.values()}
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                _upsert_sql("SELECT %s, * FROM unnest(%s::text[], %s::bigint[], %s::float8[], %s::timestamptz[])"),
                [
                    run_value,
                    [name for name, _ in latest],
                    [step for _, step in latest],
                    [sample.value for sample in latest.values()],
                    [stamps[sample.at] for sample in latest.values()],
                ],
            )
        else:
            cursor.executemany(
                _upsert_sql("VALUES (%s, %s, %s, %s, %s)"),
                [(run_value, name, step, sample.value, stamps[sample.at]) for (name, step), sample in latest.items()],
            )


def _upsert_sql(rows: str) -> str:
    """`INSERT` of `rows` (run, name, step, value, timestamp) into the points, the last write winning."""
    meta = MetricPoint._meta
    quote = connection.ops.quote_name
    column_of = {field.name: field.column for field in meta.concrete_fields}
    run, name, step, value, time = (quote(column_of[field]) for field in ("run", "name", "step", "value", "timestamp"))
    return (
        f"INSERT INTO {quote(meta.db_table)} ({run}, {name}, {step}, {value}, {time}) {rows}"
        f" ON CONFLICT ({run}, {name}, {step}) DO UPDATE SET {value} = excluded.{value}, {time} = excluded.{time}"
    )


def merge_latest(samples: Iterable[MetricSample], *, values: dict[str, float], steps: dict[str, int]) -> None:
    """Keep in `values` the value at the highest step seen of each metric (`steps` remembers it)."""
    for sample in samples:
        if sample.step >= steps.get(sample.name, -1):
            steps[sample.name] = sample.step
            values[sample.name] = sample.value
