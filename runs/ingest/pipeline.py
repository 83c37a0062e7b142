"""`ingest_run`: one pass over everything a run's trainer wrote since the last pass.

All positions (log byte offset, next sequence number, parser positions in
`ingest_state`) are saved in the same transaction as the rows they produced, and
that transaction only commits if nobody else moved the log position meanwhile. So a
supervisor killed at any moment and restarted re-reads exactly the uncommitted part:
no line lost, none stored twice.
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from gpus.inventory import utilization_of
from runs import events
from runs.ingest.checkpoints import FoundArtifact, ScanResult, scan_output_dir
from runs.ingest.eta import windowed_eta
from runs.ingest.files import read_json_if_changed, tail_jsonl
from runs.ingest.logfile import read_chunk
from runs.ingest.logstream import LogBatch, LogStream, row_constants, store_lines
from runs.ingest.metrics import MetricSample, merge_latest, store_points
from runs.ingest.progress import (
    StepProgress,
    from_llamafactory_record,
    from_metrics_record,
    from_trainer_state,
    furthest,
    parse_clock,
)
from runs.ingest.times import ElapsedClock, StepTimes
from runs.models import Artifact, ArtifactType, LogLine, Run

LLAMAFACTORY_LOG = "trainer_log.jsonl"
METRICS_FILE = "metrics.jsonl"
TRAINER_STATE = "trainer_state.json"
# Bytes of log read per transaction: bounds memory and transaction size on catch-up.
CHUNK_BYTES = 4 * 1024 * 1024
# The launch shows 0.05; completion (1.0) is the supervisor's call, not the log's.
PROGRESS_FLOOR = 0.05
PROGRESS_CEILING = 0.99
_INGEST_FIELDS = (
    "log_offset",
    "next_log_seq",
    "ingest_state",
    "progress",
    "eta_seconds",
    "current_step",
    "total_steps",
    "metrics",
    "gpu_utilization",
)


class _Superseded(Exception):
    """Another process ingested this run meanwhile; this pass's work is rolled back."""


# The metric under which each step's GPU utilisation (0-1, mean over the run's GPUs) is kept.
GPU_UTILIZATION_METRIC = "gpu/utilization"


@dataclass
class _Pass:
    """What one transaction writes."""

    log: LogBatch = field(default_factory=LogBatch)
    samples: list[MetricSample] = field(default_factory=list)
    artifacts: ScanResult = field(default_factory=lambda: ScanResult([], []))


def ingest_run(run: Run, *, final: bool = False) -> None:
    """Bring the run's log lines, progress, metrics and artifacts up to date with its files.

    `final`: the trainer has ended; its last line counts even without a newline and the
    output folder is rescanned in full. Never changes `status`. Updates `run` in place.
    """
    run_dir = Path(run.run_dir) if run.run_dir else None
    output_dir = Path(run.output_dir) if run.output_dir else None
    run_value, to_db = row_constants(run.pk)
    began = run.started_at or run.created_at
    while True:
        now = timezone.now()
        state = copy.deepcopy(run.ingest_state or {})
        stream = LogStream(
            next_seq=run.next_log_seq,
            state=state.setdefault("log", {}),
            run_value=run_value,
            to_db=to_db,
            since=(began or now).timestamp(),
        )
        offset = run.log_offset
        work = _Pass()
        chunk = None
        if run_dir is not None:
            chunk = read_chunk(run.log_path, offset, final=final, max_bytes=CHUNK_BYTES)
            offset = chunk.end_offset
        caught_up = chunk is None or chunk.at_end
        observations: dict[str, StepProgress] = {}
        step_times = StepTimes(state)
        if caught_up:
            # The trainer's records, read once the log has been caught up with: they date the log's printed dicts.
            _read_records(run_dir, output_dir, state, work, observations, step_times)
        if chunk is not None:
            work.log = stream.feed(chunk, final=final, loss_time=step_times.loss_at)
        if work.log.bar is not None:
            observations["tqdm"] = work.log.bar
        for step, at in work.log.reached:
            step_times.learn(step, at)
        for sample in work.log.samples:
            if sample.at is not None:
                step_times.learn(sample.step, sample.at)
        if caught_up and output_dir is not None:
            _read_output_folder(output_dir, state, work, observations, step_times, final=final)
        work.samples = work.log.samples + work.samples
        fields = _progress_fields(run, state, work.samples, observations, now=now, final=final)
        if (reading := _gpu_sample(run, state, fields)) is not None:
            work.samples.append(reading)
        try:
            _commit(run, work, offset=offset, next_seq=stream.next_seq, state=state, fields=fields, now=now)
        except _Superseded:
            run.refresh_from_db(fields=_INGEST_FIELDS)
            return
        if caught_up:
            return


def _read_records(
    run_dir: Path | None,
    output_dir: Path | None,
    state: dict[str, Any],
    work: _Pass,
    observations: dict[str, StepProgress],
    step_times: StepTimes,
) -> None:
    """The JSON-lines files trainers write a record per logging step to."""
    tails = state.setdefault("jsonl", {})
    jsonl_sources: list[tuple[str, Path]] = []
    if output_dir is not None:
        jsonl_sources += [("llamafactory", output_dir / LLAMAFACTORY_LOG), ("metrics_jsonl", output_dir / METRICS_FILE)]
    if run_dir is not None and run_dir != output_dir:
        jsonl_sources.append(("metrics_jsonl_run", run_dir / METRICS_FILE))
    for source, path in jsonl_sources:
        position = tails.setdefault(source, {})
        records = tail_jsonl(path, position)
        if not records:
            continue
        modified = _modified(path)
        if source == "llamafactory":
            clock = ElapsedClock(position)
            clock.observe(last_elapsed=parse_clock(records[-1].get("elapsed_time")), modified=modified)
            parsed = [from_llamafactory_record(record, began=clock.at(0)) for record in records]
        else:
            parsed = [from_metrics_record(record, at=modified) for record in records]
        for record, (progress, samples) in zip(records, parsed, strict=True):
            work.samples.extend(samples)
            if samples and samples[0].at is not None:  # a record's points share its step and time
                step_times.learn(samples[0].step, samples[0].at, dated=source == "llamafactory")
                if source == "llamafactory" and "loss" in record:
                    step_times.learn_loss(samples[0].step, samples[0].at)
            if progress is not None:
                observations[source] = progress


def _read_output_folder(
    output_dir: Path,
    state: dict[str, Any],
    work: _Pass,
    observations: dict[str, StepProgress],
    step_times: StepTimes,
    *,
    final: bool,
) -> None:
    """Checkpoints, weights and `trainer_state.json`, whose steps are dated by the run's other sources."""
    seen = state.setdefault("json_seen", {})
    work.artifacts = scan_output_dir(output_dir, state.setdefault("scan", {}), final=final)
    # trainer_state.json: the newest complete checkpoint's (its history covers the older
    # ones') and, at the end of training, the output folder's own.
    checkpoints = [item for item in work.artifacts.found if item.type == ArtifactType.CHECKPOINT]
    state_files = [output_dir / TRAINER_STATE]
    if checkpoints:
        newest = max(checkpoints, key=lambda item: item.step or 0)
        state_files.insert(0, Path(newest.path) / TRAINER_STATE)
    for path in state_files:
        if (trainer_state := read_json_if_changed(path, seen)) is not None:
            progress, samples = from_trainer_state(
                trainer_state, step_time=functools.partial(step_times.at_or, fallback=_modified(path))
            )
            work.samples.extend(samples)
            if progress is not None:
                best = furthest([progress, observations.get("trainer_state")])
                assert best is not None  # `progress` is one of them
                observations["trainer_state"] = best


def _modified(path: Path) -> float:
    """When `path` was last written (it was just read; one removed since counts as written now)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _progress_fields(
    run: Run,
    state: dict[str, Any],
    samples: list[MetricSample],
    observations: dict[str, StepProgress],
    *,
    now: datetime,
    final: bool,
) -> dict[str, Any]:
    """The Run fields this pass sets: latest metrics, GPU use, and progress when there is news of it."""
    metrics = dict(run.metrics or {})
    merge_latest(samples, values=metrics, steps=state.setdefault("metric_steps", {}))
    fields: dict[str, Any] = {
        "metrics": metrics,
        "gpu_utilization": None if final or not run.gpu_indices else utilization_of(list(run.gpu_indices)),
    }
    if final:
        fields["eta_seconds"] = None
    if not observations:
        return fields  # no new reading: progress, step and ETA stay as stored
    known = state.setdefault("progress", {})
    for source, observation in observations.items():
        known[source] = [observation.current, observation.total, observation.eta_seconds]
    best = furthest(StepProgress(*values) for values in known.values())
    assert best is not None  # `known` holds this pass's observations
    fields["current_step"] = max(best.current, 0)
    fields["total_steps"] = best.total
    if best.total:
        fraction = min(best.current / best.total, PROGRESS_CEILING)
        fields["progress"] = max(run.progress, PROGRESS_FLOOR, fraction)
    if not final:
        fields["eta_seconds"] = _eta(best, state, now)
    return fields


def _gpu_sample(run: Run, state: dict[str, Any], fields: dict[str, Any]) -> MetricSample | None:
    """GPU use as a metric point, once per training step, so the run page can chart it over time.

    Once per step, not per pass: a trainer stuck on one step would otherwise cost a write every tick.
    """
    value = fields.get("gpu_utilization")
    step = fields.get("current_step", run.current_step)
    if value is None or step is None or state.get("gpu_step") == step:
        return None
    state["gpu_step"] = step
    return MetricSample(GPU_UTILIZATION_METRIC, step, value)


def _eta(best: StepProgress, state: dict[str, Any], now: datetime) -> float | None:
    """From the step rate over a window of recent readings (runs.ingest.eta), else the trainer's own estimate."""
    return windowed_eta(state, current=best.current, total=best.total, at=now.timestamp(), trainer_eta=best.eta_seconds)


def _commit(
    run: Run, work: _Pass, *, offset: int, next_seq: int, state: dict[str, Any], fields: dict[str, Any], now: datetime
) -> None:
    values = {"log_offset": offset, "next_log_seq": next_seq, "ingest_state": state, **fields}
    if _nothing_new(run, work, values):
        return  # most ticks of a quiet trainer: no write at all
    values["updated_at"] = timezone.now()
    with transaction.atomic():
        # Conditional on the position this pass started from: of two ingesters, one wins.
        moved = Run.objects.filter(pk=run.pk, log_offset=run.log_offset, next_log_seq=run.next_log_seq).update(**values)
        if moved != 1:
            raise _Superseded
        store_lines(work.log.rows)
        if work.log.bar_rewrite is not None:
            seq, text = work.log.bar_rewrite
            LogLine.objects.filter(run_id=run.pk, seq=seq).update(message=text)
        store_points(run.pk, work.samples, at=now)
        _store_artifacts(run, work.artifacts.found, work.artifacts.vanished)
        events.checkpoints_saved(run, work.artifacts.found)
    for name, value in values.items():
        setattr(run, name, value)


def _nothing_new(run: Run, work: _Pass, values: dict[str, Any]) -> bool:
    return (
        not work.log.rows
        and work.log.bar_rewrite is None
        and not work.samples
        and not work.artifacts.found
        and not work.artifacts.vanished
        and all(getattr(run, name) == value for name, value in values.items())
    )


def _store_artifacts(run: Run, found: list[FoundArtifact], vanished: list[str]) -> None:
    if found:
        Artifact.objects.bulk_create(
            [
                Artifact(
                    run=run, name=item.name, type=item.type, path=item.path, size_bytes=item.size_bytes, step=item.step
                )
                for item in found
            ],
            update_conflicts=True,
            unique_fields=["run", "path"],
            update_fields=["name", "type", "size_bytes", "step"],
        )
    if vanished:
        # A rotated checkpoint (save_total_limit) is gone for good; one a run was resumed
        # from stays, as that run's record of where it came from.
        Artifact.objects.filter(run=run, path__in=vanished, resumed_runs__isnull=True).delete()


def latest_complete_checkpoint(run: Run) -> Artifact | None:
    """The run's highest-step checkpoint artifact whose folder is still on disk."""
    for artifact in Artifact.objects.filter(run=run, type=ArtifactType.CHECKPOINT).order_by("-step", "-created_at"):
        if Path(artifact.path).is_dir():
            return artifact
    return None
