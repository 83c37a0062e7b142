"""P2 log paging: page 1 vs the last page of a 10-million-line log, with and without a time filter.

The lines are generated inside the database (generate_series on PostgreSQL, a
recursive CTE on SQLite), with timestamps rising with `seq` as ingestion writes
them. Each page is requested through GET /projects/{ref}/runs/{id}/logs in-process
(DRF test client, so no HTTP server noise), `--repeat` times; medians are compared.
The time filter spans all but the first and last minute, so its last page is as
deep as the unfiltered one.

    python bench/p2_log_paging.py --database postgres://postgres@127.0.0.1:5432/llmp_bench_ingest [--lines 10000000]

Goal: the deep page within 1.5× of the first.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from machine import machine
from runs_setup import make_project_and_run, parser, setup

START = datetime(2026, 1, 1, tzinfo=UTC)
PAGE_SIZE = 50


def generate_lines(run, lines: int) -> float:
    """Insert `lines` rows for `run` in the database itself; seconds taken."""
    from django.db import connection, transaction

    from runs.models import LogLine, Run

    table = LogLine._meta.db_table
    run_value = LogLine._meta.get_field("run").target_field.get_db_prep_value(run.pk, connection)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (run_id, seq, timestamp, level, message) "
                "SELECT %s, g, %s + g * interval '10 milliseconds', "
                "CASE WHEN g %% 97 = 0 THEN 'WARNING' ELSE 'INFO' END, "
                "'[INFO|trainer.py:2412] >> step ' || g || ': tokens/s=18234.5 mem=41.2GB lr=1.0e-05' "
                "FROM generate_series(1, %s) AS g",
                [run_value, START, lines],
            )
        else:
            cursor.execute(
                f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s) "
                f"INSERT INTO {table} (run_id, seq, timestamp, level, message) "
                "SELECT %s, n, strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '+' || (n / 100.0) || ' seconds'), "
                "CASE WHEN n %% 97 = 0 THEN 'WARNING' ELSE 'INFO' END, "
                "'[INFO|trainer.py:2412] >> step ' || n || ': tokens/s=18234.5 mem=41.2GB lr=1.0e-05' FROM g",
                [lines, run_value, START.strftime("%Y-%m-%d %H:%M:%S")],
            )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {table}")
    Run.objects.filter(pk=run.pk).update(next_log_seq=lines + 1)
    return time.perf_counter() - started


def median_ms(client, url: str, params: dict, repeat: int) -> tuple[float, dict]:
    timings, body = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, params)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content
        body = response.json()
    return statistics.median(timings), body


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--lines", type=int, default=10_000_000)
    arguments.add_argument("--repeat", type=int, default=30)
    options = arguments.parse_args()
    setup(options.database)

    from django.db import connection
    from rest_framework.test import APIClient

    user, project, run = make_project_and_run()
    seconds = generate_lines(run, options.lines)
    print(f"database: {connection.vendor}  lines: {options.lines:,}  generated in {seconds:.1f}s")
    client = APIClient()
    client.force_authenticate(user)
    url = f"/projects/{project.name}/runs/{run.pk}/logs"
    span = timedelta(milliseconds=10 * options.lines)
    time_filter = {
        "start_time": (START + timedelta(minutes=1)).isoformat(),
        "end_time": (START + span - timedelta(minutes=1)).isoformat(),
    }
    for label, extra in (("no filter", {}), ("time filter", time_filter)):
        first_ms, first = median_ms(client, url, {"page": 1, "page_size": PAGE_SIZE, **extra}, options.repeat)
        last_page = -(-first["total"] // PAGE_SIZE)
        last_ms, last = median_ms(client, url, {"page": last_page, "page_size": PAGE_SIZE, **extra}, options.repeat)
        assert len(first["items"]) == PAGE_SIZE and last["items"], "both pages hold lines"
        print(
            f"{label:>11}: total {first['total']:,}; page 1 {first_ms:.2f} ms, page {last_page:,} {last_ms:.2f} ms;"
            f" deep/first {last_ms / first_ms:.2f}x (goal <= 1.5x)"
        )


if __name__ == "__main__":
    print(f"at the start, {machine()}", flush=True)
    main()
    print(f"at the end,   {machine()}")
