"""GET /projects/{ref}/runs/{id}/logs: pages by seq range, time bounds, level, text, tail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from runs.models import LogLine, Run

T0 = datetime(2024, 1, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def run(project) -> Run:
    """120 lines, one a second from T0; every tenth a WARNING, line 7 an ERROR."""
    run = Run.objects.create(project=project, status="running", next_log_seq=121)
    LogLine.objects.bulk_create(
        LogLine(
            run=run,
            seq=seq,
            timestamp=T0 + timedelta(seconds=seq - 1),
            level="ERROR" if seq == 7 else "WARNING" if seq % 10 == 0 else "INFO",
            message=f"step {seq} - loss={1 / seq:.3f}",
        )
        for seq in range(1, 121)
    )
    return run


def get(client, run, query=""):
    return client.get(f"/projects/{run.project.name}/runs/{run.pk}/logs{query}")


def seqs(response):
    assert response.status_code == 200, response.content
    return [item["seq"] for item in response.json()["items"]]


def test_it_pages_in_the_order_the_process_wrote(owner_client, run):
    first = get(owner_client, run)
    body = first.json()

    assert {key: body[key] for key in ("page", "page_size", "total")} == {"page": 1, "page_size": 50, "total": 120}
    assert seqs(first) == list(range(1, 51))
    assert body["items"][0] == {
        "seq": 1,
        "timestamp": "2024-01-02T10:00:00Z",
        "level": "INFO",
        "message": "step 1 - loss=1.000",
    }
    assert seqs(get(owner_client, run, "?page=3")) == list(range(101, 121))
    assert seqs(get(owner_client, run, "?page=4")) == []
    assert seqs(get(owner_client, run, "?page=2&page_size=500")) == []


def test_it_filters_by_time_start_inclusive_end_exclusive(owner_client, run):
    start = (T0 + timedelta(seconds=9)).isoformat()  # seq 10
    end = (T0 + timedelta(seconds=29)).isoformat()  # seq 30, excluded

    response = get(
        owner_client, run, "?" + urlencode({"start_time": start, "end_time": end, "page_size": 15, "page": 2})
    )

    assert response.json()["total"] == 20
    assert seqs(response) == list(range(25, 30))


def test_it_filters_by_minimum_level_and_text(owner_client, run):
    warnings = get(owner_client, run, "?level=WARNING&page_size=5&page=2")
    assert warnings.json()["total"] == 13
    assert seqs(warnings) == [50, 60, 70, 80, 90]
    assert seqs(get(owner_client, run, "?level=ERROR")) == [7]
    assert seqs(get(owner_client, run, "?q=STEP%2011")) == [11, *range(110, 120)]


def test_it_follows_the_tail_after_a_seq(owner_client, run):
    response = get(owner_client, run, "?after_seq=115")

    assert response.json()["total"] == 5
    assert seqs(response) == [116, 117, 118, 119, 120]


@pytest.mark.parametrize(
    "query",
    [
        "?page_size=0",
        "?page_size=501",
        "?page=0",
        "?page=x",
        "?start_time=yesterday",
        "?start_time=2024-01-02T11:00:00Z&end_time=2024-01-02T10:00:00Z",
        "?level=LOUD",
        "?after_seq=-1",
        # Deeper than any database can offset: refused, not passed on to fail there.
        "?page=9223372036854775807",
        "?after_seq=9223372036854775807",
        "?page=9223372036854775807&level=ERROR",
    ],
)
def test_it_refuses_out_of_range_input_with_400(owner_client, run, query):
    response = get(owner_client, run, query)

    assert response.status_code == 400
    assert response.json()["detail"]


def test_it_reads_a_deep_page_in_as_few_queries_as_the_first(owner_client, run, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert seqs(get(owner_client, run, "?page=3&page_size=50")) == list(range(101, 121))
    with django_assert_max_num_queries(8):
        assert seqs(get(owner_client, run, "?page=2&page_size=10&start_time=2024-01-02T10:00:30Z")) == list(
            range(41, 51)
        )


def test_it_hides_the_log_from_outsiders(outsider_client, run):
    assert get(outsider_client, run).status_code == 404
