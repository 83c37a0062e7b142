"""The platform's state as Prometheus metrics, read from the database when Prometheus scrapes.

One custom collector answers every scrape with a fixed handful of queries (aggregates
grouped by label, never a query per run), so a scrape costs the same with ten runs or
ten thousand: see bench/p10_metrics_scrape.py. What lives outside the database comes
from where it lives: GPU readings from NVML on the host that answers, running runs' log
files from the disk, django-q2's queue from its broker and its heartbeats from the cache.

Counters here are sums over rows (bytes received and validated by dataset uploads, runs
started): they only grow, except when rows are deleted, which Prometheus' `rate()` reads
as a counter reset.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, FloatField, Func, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from datasets.models import DatasetFile
from deployments.models import LIVE_STATUSES, Deployment
from gpus.inventory import list_gpus, nvml_available
from gpus.models import GpuClaim
from notifications.models import Delivery
from runs.models import Artifact, Run, RunStatus

logger = logging.getLogger(__name__)

# Seconds from a run's launch request to its start (queue wait plus dispatch).
START_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


class PlatformCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        failed = GaugeMetricFamily(
            "llmp_metrics_scrape_error", "1 for a part of the metrics that could not be read, else 0.", labels=["part"]
        )
        for part in PARTS:
            try:
                metrics = list(part(now))
            except Exception:  # one unreadable source (a broker away) must not blank the others
                logger.exception("Metrics from %s could not be read.", part.__name__)
                failed.add_metric([part.__name__], 1)
                continue
            failed.add_metric([part.__name__], 0)
            yield from metrics
        yield failed


def run_metrics(now: datetime) -> Iterator[Metric]:
    runs = GaugeMetricFamily("llmp_runs", "Runs by status and project.", labels=["status", "project"])
    for row in Run.objects.order_by().values("status", "project__name").annotate(count=Count("id")):
        runs.add_metric([row["status"], row["project__name"]], row["count"])
    yield runs


def queue_metrics(now: datetime) -> Iterator[Metric]:
    queued = Run.objects.order_by().filter(status=RunStatus.QUEUED)
    by_executor = queued.values("executor").annotate(count=Count("id"), oldest=Min("created_at"))
    depth = GaugeMetricFamily("llmp_run_queue_depth", "Queued runs, by executor.", labels=["executor"])
    oldest = GaugeMetricFamily(
        "llmp_run_queue_oldest_wait_seconds",
        "How long the longest-queued run has waited, by executor.",
        labels=["executor"],
    )
    for row in by_executor:
        depth.add_metric([row["executor"]], row["count"])
        oldest.add_metric([row["executor"]], max(0.0, (now - row["oldest"]).total_seconds()))
    yield depth
    yield oldest
    yield start_latency()


class SecondsBetween(Func):
    """`end - start` in seconds, by the database's own date arithmetic: Django's duration
    subtraction runs a Python function per row on SQLite, which costs more than the whole scrape."""

    output_field = FloatField()
    arity = 2

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))", arg_joiner=" - ", **extra
        )


def start_latency() -> Metric:
    """From launch request to start, of every run that started, by executor: one query of bucket counts."""
    counts = {f"le_{index}": Count("id", filter=Q(waited__lte=bound)) for index, bound in enumerate(START_BUCKETS)}
    rows = (
        Run.objects.order_by()
        .filter(started_at__isnull=False)
        .annotate(waited=SecondsBetween("started_at", "created_at"))
        .values("executor")
        .annotate(total=Count("id"), waited_sum=Sum("waited"), **counts)
    )
    family = HistogramMetricFamily(
        "llmp_run_start_latency_seconds",
        "Seconds from a run's launch request to its start (queue wait plus dispatch), by executor.",
        labels=["executor"],
    )
    for row in rows:
        buckets = [(str(bound), row[f"le_{index}"]) for index, bound in enumerate(START_BUCKETS)]
        buckets.append(("+Inf", row["total"]))
        family.add_metric([row["executor"]], buckets, sum_value=float(row["waited_sum"] or 0.0))
    return family


def ingestion_metrics(now: datetime) -> Iterator[Metric]:
    """How far behind its trainer's log each running run's ingestion is, where this host can read the log."""
    behind_bytes = GaugeMetricFamily(
        "llmp_run_ingest_lag_bytes", "Bytes of a running run's log not yet ingested.", labels=["run", "project"]
    )
    behind_seconds = GaugeMetricFamily(
        "llmp_run_ingest_lag_seconds",
        "Seconds between the last write to a running run's log and its last ingestion (0: caught up).",
        labels=["run", "project"],
    )
    running = Run.objects.order_by().filter(status=RunStatus.RUNNING)
    for run_id, project, run_dir, offset, ingested_at in running.values_list(
        "id", "project__name", "run_dir", "log_offset", "updated_at"
    ):
        if not run_dir:
            continue
        try:
            stat = (Path(run_dir) / "train.log").stat()
        except OSError:  # another host's run, or nothing written yet
            continue
        labels = [str(run_id), project]
        behind_bytes.add_metric(labels, max(0, stat.st_size - offset))
        written_at = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
        lagging = stat.st_size > offset and written_at > ingested_at
        behind_seconds.add_metric(labels, (now - ingested_at).total_seconds() if lagging else 0.0)
    yield behind_bytes
    yield behind_seconds


def gpu_metrics(now: datetime) -> Iterator[Metric]:
    """This host's GPUs (NVML, else GPU_IDS), and who holds each in the ledger."""
    claims = {(claim.host, claim.gpu_index): claim for claim in GpuClaim.objects.on_this_host().order_by()}
    gpus = list_gpus()
    info = GaugeMetricFamily(
        "llmp_gpu_info",
        "1 per GPU of this host, with its model and what holds it (holder_kind empty: free).",
        labels=["gpu", "name", "holder_kind", "holder_id", "holder"],
    )
    utilization = GaugeMetricFamily("llmp_gpu_utilization_ratio", "GPU utilisation, 0-1 (NVML).", labels=["gpu"])
    used = GaugeMetricFamily("llmp_gpu_memory_used_bytes", "GPU memory in use (NVML).", labels=["gpu"])
    total = GaugeMetricFamily("llmp_gpu_memory_total_bytes", "GPU memory (NVML).", labels=["gpu"])
    for gpu in gpus:
        index = str(gpu.index)
        claim = claims.get(gpu.key)
        holder = [claim.holder_kind, claim.holder_id, claim.holder_label] if claim else ["", "", ""]
        info.add_metric([index, gpu.name, *holder], 1)
        if gpu.utilization is not None:
            utilization.add_metric([index], gpu.utilization)
        if gpu.memory_total_bytes is not None:
            total.add_metric([index], gpu.memory_total_bytes)
            if gpu.memory_free_bytes is not None:
                used.add_metric([index], gpu.memory_total_bytes - gpu.memory_free_bytes)
    held = GaugeMetricFamily(
        "llmp_gpus_held", "This host's GPUs held in the ledger, by holder kind.", labels=["holder_kind"]
    )
    for kind in sorted({claim.holder_kind for claim in claims.values()}):
        held.add_metric([kind], sum(1 for claim in claims.values() if claim.holder_kind == kind))
    nvml = GaugeMetricFamily("llmp_gpu_nvml_available", "1 when this host reads its GPUs through NVML.")
    nvml.add_metric([], 1 if not settings.GPU_IDS.strip() and nvml_available() else 0)
    yield from (info, utilization, used, total, held, nvml)


def deployment_metrics(now: datetime) -> Iterator[Metric]:
    by_status = GaugeMetricFamily("llmp_deployments", "Deployments by status.", labels=["status"])
    for row in Deployment.objects.order_by().values("status").annotate(count=Count("id")):
        by_status.add_metric([row["status"]], row["count"])
    labels = ["deployment", "model", "host", "gpu"]
    healthy = GaugeMetricFamily(
        "llmp_deployment_healthy", "1 when a live deployment's last probe passed, else 0.", labels=[*labels, "status"]
    )
    failed = GaugeMetricFamily("llmp_deployment_failed_probes", "Failed probes in a row.", labels=labels)
    latency = GaugeMetricFamily("llmp_deployment_probe_seconds", "How long the last probe took.", labels=labels)
    probe_age = GaugeMetricFamily("llmp_deployment_probe_age_seconds", "Seconds since the last probe.", labels=labels)
    live = Deployment.objects.order_by().filter(status__in=LIVE_STATUSES)
    for probe in live.values(
        "id",
        "served_model_name",
        "host",
        "gpu_id",
        "status",
        "health_ok",
        "failed_probes",
        "last_probe_at",
        "last_probe_seconds",
    ):
        values = [
            str(probe["id"]),
            probe["served_model_name"],
            probe["host"],
            "" if probe["gpu_id"] is None else str(probe["gpu_id"]),
        ]
        healthy.add_metric([*values, probe["status"]], 1 if probe["health_ok"] else 0)
        failed.add_metric(values, probe["failed_probes"])
        if probe["last_probe_seconds"] is not None:
            latency.add_metric(values, probe["last_probe_seconds"])
        if probe["last_probe_at"] is not None:
            probe_age.add_metric(values, max(0.0, (now - probe["last_probe_at"]).total_seconds()))
    yield from (by_status, healthy, failed, latency, probe_age)


def upload_metrics(now: datetime) -> Iterator[Metric]:
    """Bytes received and validated by dataset uploads (`rate()` of them is the throughput), files by status."""
    files = GaugeMetricFamily("llmp_dataset_files", "Dataset files by status.", labels=["status"])
    received = CounterMetricFamily("llmp_dataset_received_bytes", "Bytes received by dataset uploads.")
    validated = CounterMetricFamily("llmp_dataset_validated_bytes", "Bytes of dataset files validated.")
    records = CounterMetricFamily("llmp_dataset_validated_records", "Records of dataset files validated.")
    rows = (
        DatasetFile.objects.order_by()
        .values("status")
        .annotate(
            count=Count("id"), received=Sum("received_bytes"), validated=Sum("validated_bytes"), records=Sum("records")
        )
    )
    totals = {"received": 0, "validated": 0, "records": 0}
    for row in rows:
        files.add_metric([row["status"]], row["count"])
        for key in totals:
            totals[key] += row[key] or 0
    received.add_metric([], totals["received"])
    validated.add_metric([], totals["validated"])
    records.add_metric([], totals["records"])
    yield from (files, received, validated, records)


def disk_metrics(now: datetime) -> Iterator[Metric]:
    """Free space where runs write, and what each project's checkpoints and other artifacts take."""
    free = GaugeMetricFamily(
        "llmp_disk_free_bytes", "Free bytes on a filesystem the platform writes to.", labels=["path"]
    )
    for name, path in (("RUNS_DIR", settings.RUNS_DIR), ("DATA_DIR", settings.DATA_DIR)):
        try:
            free.add_metric([name], shutil.disk_usage(path).free)
        except OSError:
            continue
    used = GaugeMetricFamily(
        "llmp_project_artifact_bytes", "Bytes of a project's artifacts on disk, by type.", labels=["project", "type"]
    )
    rows = Artifact.objects.order_by().values("run__project__name", "type").annotate(size=Sum("size_bytes"))
    for row in rows:
        used.add_metric([row["run__project__name"], row["type"]], row["size"] or 0)
    yield free
    yield used


def worker_metrics(now: datetime) -> Iterator[Metric]:
    """django-q2: tasks waiting in the broker, and the age of each cluster's heartbeat."""
    from django_q.brokers import get_broker
    from django_q.status import Stat

    size = GaugeMetricFamily("llmp_task_queue_size", "Background tasks waiting in django-q2's broker.")
    size.add_metric([], get_broker().queue_size() or 0)
    yield size
    heartbeat = GaugeMetricFamily(
        "llmp_worker_heartbeat_age_seconds", "Seconds since a django-q2 cluster's last heartbeat.", labels=["host"]
    )
    newest: dict[str, float] = {}
    for cluster in Stat.get_all():
        age = max(0.0, (now - cluster.timestamp).total_seconds())
        newest[cluster.host] = min(age, newest.get(cluster.host, age))
    for host, age in sorted(newest.items()):
        heartbeat.add_metric([host], age)
    clusters = GaugeMetricFamily("llmp_worker_clusters", "django-q2 clusters with a live heartbeat.")
    clusters.add_metric([], len(newest))
    yield heartbeat
    yield clusters


def webhook_metrics(now: datetime) -> Iterator[Metric]:
    deliveries = GaugeMetricFamily("llmp_webhook_deliveries", "Webhook deliveries by status.", labels=["status"])
    for row in Delivery.objects.order_by().values("status").annotate(count=Count("id")):
        deliveries.add_metric([row["status"]], row["count"])
    yield deliveries


PARTS: list[Callable[[datetime], Iterator[Metric]]] = [
    run_metrics,
    queue_metrics,
    ingestion_metrics,
    gpu_metrics,
    deployment_metrics,
    upload_metrics,
    disk_metrics,
    worker_metrics,
    webhook_metrics,
]
