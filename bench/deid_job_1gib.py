"""P3b: a dataset de-identification job over 1 GiB, against the same scrubbing in-process.

    python bench/deid_job_1gib.py [--size-mib 1024] [--sample-mib 32]

Writes a JSON Lines chat dataset of `--size-mib` MiB to /tmp (each record a user turn
from the held-apart evaluation set, `deid.evaluation`, and an assistant turn from the
generated corpus: names, addresses and numbers at a realistic mix of densities), adds it
to a dataset on a throwaway SQLite database, and runs the job as the django-q2 worker
does (`deid.services.run_deid_job`, the `default` policy, every recogniser). A second
thread reads the job's progress from the database as a client polling
`GET /v1/deid-jobs/{id}` would, and prints it. The in-process figure is the same
records scrubbed by `Deidentifier.deidentify_json` on the first `--sample-mib` MiB,
already parsed, nothing written. Both are MB per second of this process's CPU time
(the job runs on one worker core); wall-clock figures are printed too.
"""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from pathlib import Path

import runs_setup
from machine import machine

REPORT_EVERY_SECONDS = 20


def write_dataset(path: Path, size: int) -> int:
    from deid.corpus import generate
    from deid.evaluation import evaluation_sets

    documents = [d.text for documents in evaluation_sets().values() for d in documents]
    replies = [line.text for line in generate(20_000, seed=7)]
    rng = random.Random(11)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < size:
            record = {
                "messages": [
                    {"role": "user", "content": rng.choice(documents)},
                    {"role": "assistant", "content": rng.choice(replies)},
                ]
            }
            line = json.dumps(record, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
    return written


def in_process_rate(path: Path, sample: int) -> tuple[float, float]:
    from deid.models import DeidPolicy

    records, size = [], 0
    with path.open("rb") as source:
        for raw in source:
            records.append(json.loads(raw))
            size += len(raw)
            if size >= sample:
                break
    deidentifier = DeidPolicy.objects.get(name="default").deidentifier(seed=0)
    wall, cpu = time.perf_counter(), time.process_time()
    for record in records:
        deidentifier.deidentify_json(record)
    return size / 1e6 / (time.process_time() - cpu), size / 1e6 / (time.perf_counter() - wall)


def watch(job_id: str, done: threading.Event) -> None:
    from django.db import connection

    from deid.models import DeidJob

    started = time.perf_counter()
    while not done.wait(REPORT_EVERY_SECONDS):
        job = DeidJob.objects.get(pk=job_id)
        print(
            f"  {time.perf_counter() - started:6.0f} s  {job.status:9s} progress {job.progress:.3f} "
            f"({job.processed_bytes / 2**20:.0f} MiB)",
            flush=True,
        )
    connection.close()


def main() -> None:
    parser = runs_setup.parser(__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--sample-mib", type=int, default=32)
    args = parser.parse_args()
    scratch = runs_setup.setup(args.database)
    from django.contrib.auth.models import User

    from datasets import services as dataset_services
    from deid import services
    from deid.models import DeidJob, DeidPolicy

    try:
        source = scratch / "chats.jsonl"
        size = write_dataset(source, args.size_mib * 2**20)
        print(f"dataset: {size / 2**20:.0f} MiB of JSON Lines in {source}")
        cpu_rate, wall_rate = in_process_rate(source, args.sample_mib * 2**20)
        print(f"in-process (first {args.sample_mib} MiB): {cpu_rate:.2f} MB/s CPU, {wall_rate:.2f} MB/s wall")

        owner = User.objects.create_user("bench")
        dataset = dataset_services.create_dataset(name="chats", task_type="sft", created_by=owner)
        dataset_services.add_file_from_path(
            dataset=dataset, source_path=source, filename="chats.jsonl", created_by=owner
        )
        policy = DeidPolicy.objects.get(name="default")
        job = services.start_dataset_deidentification(dataset=dataset, policy=policy, actor=owner)
        done = threading.Event()
        watcher = threading.Thread(target=watch, args=(str(job.pk), done))
        watcher.start()
        wall, cpu = time.perf_counter(), time.process_time()
        services.run_deid_job(job_id=str(job.pk))
        job_cpu, job_wall = time.process_time() - cpu, time.perf_counter() - wall
        done.set()
        watcher.join()
        job = DeidJob.objects.get(pk=job.pk)
        print(f"job: {job.status}, {job.lines} lines, progress {job.progress}, counts {job.counts}")
        job_rate = size / 1e6 / job_cpu
        job_wall_rate = size / 1e6 / job_wall
        print(f"job: {job_rate:.2f} MB/s CPU ({job_cpu:.0f} s), {job_wall_rate:.2f} MB/s wall ({job_wall:.0f} s)")
        print(f"job / in-process (CPU): {job_rate / cpu_rate:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    print(f"at the start, {machine()}", flush=True)
    main()
    print(f"at the end,   {machine()}")
