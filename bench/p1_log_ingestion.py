"""P1 log ingestion: lines/s from a trainer's log file to rows the API returns, vs raw executemany.

Side by side in one run, on the same table: `ingest_run` reading a 200,000-line
trainer log (levels, tracebacks, printed metric dicts, one transaction per 4 MiB)
against a raw `cursor.executemany` of exactly the rows it produced (prepared before
the clock starts). Each side runs `--rounds` times, alternating; best and median
times are compared, wall-clock and (SQLite, in-process) CPU time: on a shared
machine CPU seconds and best-of-N are the steadier figures.
The API check reads the last page back through GET …/logs.

    python bench/p1_log_ingestion.py [--database postgres://postgres@127.0.0.1:5432/llmp_bench_ingest]

Goal: ratio ≥ 0.5.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

from machine import machine
from runs_setup import make_project_and_run, parser, setup

if TYPE_CHECKING:  # Django is set up at run time, by setup()
    from runs.models import Run


def write_trainer_log(path: Path, lines: int) -> None:
    """A log like a long Hugging Face run: INFO lines, warnings, metric dicts, a traceback at the end."""
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(lines - 4):
            if n % 50 == 0:
                handle.write(f"{{'loss': '{2.0 - n / lines:.4g}', 'grad_norm': '0.51', 'learning_rate': '1e-05'}}\n")
            elif n % 97 == 0:
                handle.write(f"[WARNING|trainer.py:1203] >> gradient overflow at step {n}, skipping update\n")
            else:
                handle.write(f"[INFO|trainer.py:2412] >> step {n}: tokens/s=18234.5 mem=41.2GB lr=1.0e-05 ok\n")
        handle.write('Traceback (most recent call last):\n  File "train.py", line 9, in <module>\n')
        handle.write("    trainer.train()\nRuntimeError: stand-in failure at the end of the log\n")


class Clock:
    """Wall-clock and this process's CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def time_ingest(log: Path) -> tuple[Clock, Run]:
    from runs.ingest import ingest_run

    _, _, run = make_project_and_run()
    (Path(run.run_dir) / "train.log").symlink_to(log)
    with Clock() as clock:
        ingest_run(run, final=True)
    return clock, run


def time_executemany(rows: list[tuple]) -> Clock:
    from django.db import connection, transaction

    from runs.models import LogLine

    table = LogLine._meta.db_table
    sql = f"INSERT INTO {table} (run_id, seq, timestamp, level, message) VALUES (%s, %s, %s, %s, %s)"
    with Clock() as clock, transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return clock


def rows_for_raw_insert(source_run, target_run) -> list[tuple]:
    """The rows ingest stored for `source_run`, as database values for `target_run`."""
    from django.db import connection

    from runs.models import LogLine

    run_field = LogLine._meta.get_field("run").target_field
    run_id = run_field.get_db_prep_value(target_run.pk, connection)
    return [
        (run_id, seq, connection.ops.adapt_datetimefield_value(timestamp), level, message)
        for seq, timestamp, level, message in LogLine.objects.filter(run=source_run)
        .order_by("seq")
        .values_list("seq", "timestamp", "level", "message")
    ]


def last_page_through_api(user, project, run, page_size: int = 500) -> dict:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    pages = -(-(run.next_log_seq - 1) // page_size)
    response = client.get(f"/projects/{project.name}/runs/{run.pk}/logs", {"page": pages, "page_size": page_size})
    assert response.status_code == 200, response.content
    return response.json()


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--lines", type=int, default=200_000)
    arguments.add_argument("--rounds", type=int, default=5)
    options = arguments.parse_args()
    at_start = machine()
    scratch = setup(options.database)

    from django.db import connection

    log = scratch / "trainer.log"
    write_trainer_log(log, options.lines)
    ingest_times, raw_times = [], []
    rows = None
    for _ in range(options.rounds):
        elapsed, run = time_ingest(log)
        ingest_times.append(elapsed)
        assert run.next_log_seq - 1 == options.lines, (run.next_log_seq, options.lines)
        if rows is None:
            user, project, _ = make_project_and_run()
            page = last_page_through_api(user, project, run)
            assert page["total"] == options.lines and page["items"][-1]["level"] == "ERROR", page["total"]
            _, _, raw_run = make_project_and_run()
            rows = rows_for_raw_insert(run, raw_run)
        else:
            _, _, raw_run = make_project_and_run()
            rows = [(raw_run_id(raw_run), *row[1:]) for row in rows]
        raw_times.append(time_executemany(rows))

    print(f"at the start, {at_start}\nat the end,   {machine()}")
    print(f"database: {connection.vendor}  lines: {options.lines:,}  rounds: {options.rounds}")
    print(f"ingest_run (file -> rows, levels, metrics) wall: {fmt(ingest_times)}")
    print(f"raw executemany of the same rows           wall: {fmt(raw_times)}")
    # With SQLite the database works inside this process, so CPU seconds count all of
    # the work and are not inflated by waiting on a busy machine; PostgreSQL works in
    # its own process, so there only wall-clock time tells.
    measures = [("wall", "wall")] + ([("cpu", "cpu")] if connection.vendor == "sqlite" else [])
    for measure, attribute in measures:
        # Round by round (each pair ran back to back), so the spread shows how much a figure can be trusted.
        pairs = zip(ingest_times, raw_times, strict=True)
        ratios = sorted(getattr(raw, attribute) / getattr(ingest, attribute) for ingest, raw in pairs)
        print(f"  {measure} ratio per round: {', '.join(f'{ratio:.2f}x' for ratio in ratios)}")
    for label, pick in (("best", min), ("median", statistics.median)):
        for measure, attribute in measures:
            ingest = options.lines / pick(getattr(clock, attribute) for clock in ingest_times)
            raw = options.lines / pick(getattr(clock, attribute) for clock in raw_times)
            print(
                f"{label:>6} {measure:>4}: ingest {ingest:,.0f} lines/s, executemany {raw:,.0f} lines/s,"
                f" ratio {ingest / raw:.2f}x (goal >= 0.5x)"
            )


def raw_run_id(run) -> object:
    from django.db import connection

    from runs.models import LogLine

    return LogLine._meta.get_field("run").target_field.get_db_prep_value(run.pk, connection)


def fmt(clocks: list[Clock]) -> str:
    return ", ".join(f"{clock.wall:.2f}s (cpu {clock.cpu:.2f}s)" for clock in clocks)


if __name__ == "__main__":
    main()
