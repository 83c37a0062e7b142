"""The log partial: the panel the filter form swaps in, and the tail the page polls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console.tests.conftest import add_log
from runs.models import RunStatus

pytestmark = pytest.mark.django_db


def logs(client, run, **params):
    return client.get(reverse("console:run-logs", args=[run.project_id, run.pk]), params)


def messages_in(response) -> list[str]:
    return [chunk.split("</span>")[0] for chunk in response.content.decode().split('<span class="log-message">')[1:]]


def test_it_appends_only_lines_after_the_last_seen_and_moves_the_poller(owner_session, run):
    add_log(run, ("INFO", "step 1"), ("INFO", "step 2"))
    response = logs(owner_session, run, after_seq=3)
    assert messages_in(response) == ["step 1", "step 2"]
    page = response.content.decode()
    assert 'hx-swap-oob="true"' in page
    assert "after_seq=5" in page


def test_it_asks_again_at_once_while_catching_up_with_a_long_log(owner_session, run):
    add_log(run, *[("INFO", f"line {number}") for number in range(600)])
    first = logs(owner_session, run, after_seq=3).content.decode()
    assert 'hx-trigger="load delay:100ms"' in first and "after_seq=503" in first
    rest = logs(owner_session, run, after_seq=503).content.decode()
    assert 'hx-trigger="every 2s"' in rest and "after_seq=603" in rest


def test_it_answers_no_content_while_nothing_is_new_and_stops_polling_once_finished(owner_session, run):
    assert logs(owner_session, run, after_seq=3).status_code == 204
    run.transition(RunStatus.RUNNING, RunStatus.CANCELLED)
    assert logs(owner_session, run, after_seq=3).status_code == 286  # htmx: stop polling


def test_it_ends_following_with_the_last_lines_once_the_run_has_finished(owner_session, run):
    run.transition(RunStatus.RUNNING, RunStatus.COMPLETED)
    add_log(run, ("INFO", "Training finished"))
    response = logs(owner_session, run, after_seq=3)
    assert response.status_code == 286  # htmx: swap these in, then stop polling
    page = response.content.decode()
    assert messages_in(response) == ["Training finished"]
    assert 'id="log-mode" hx-swap-oob="true">The run has finished: no more lines will come.' in page
    assert "log-poller" not in page


def test_it_keeps_following_a_cancelled_run_until_its_processes_are_stopped(owner_session, run):
    run.transition(RunStatus.RUNNING, RunStatus.CANCELLED, executor_state={"stop": {"by": "alice", "carrier": ""}})
    assert logs(owner_session, run, after_seq=3).status_code == 204


def test_it_opens_a_finished_runs_page_without_following(owner_session, run):
    run.transition(RunStatus.RUNNING, RunStatus.FAILED)
    page = owner_session.get(reverse("console:run-detail", args=[run.project_id, run.pk])).content.decode()
    assert "The run has finished: no more lines will come." in page
    assert "Following:" not in page and "log-poller" not in page


def test_it_filters_by_minimum_level(owner_session, run):
    assert messages_in(logs(owner_session, run, level="WARNING")) == ["dataset differs", "CUDA hiccup"]


def test_it_searches_text_case_insensitively_and_keeps_the_filter_while_following(owner_session, run):
    response = logs(owner_session, run, q="cuda")
    assert messages_in(response) == ["CUDA hiccup"]
    assert "q=cuda" in response.content.decode()


def test_it_jumps_to_a_time_and_stops_following(owner_session, run):
    later = timezone.now() + timedelta(hours=1)
    add_log(run, ("INFO", "an hour later"), ("INFO", "and a second"), start=later)
    response = logs(owner_session, run, start_time=later.strftime("%Y-%m-%dT%H:%M:%S"))
    assert messages_in(response) == ["an hour later", "and a second"]
    assert "log-poller" not in response.content.decode()


def test_it_shows_the_latest_lines_when_the_log_is_long(owner_session, run):
    add_log(run, *[("INFO", f"line {number}") for number in range(300)])
    shown = messages_in(logs(owner_session, run))
    assert len(shown) == 200
    assert shown[-1] == "line 299"


def test_it_refuses_a_malformed_filter(owner_session, run):
    assert logs(owner_session, run, after_seq="-1").status_code == 400
    assert logs(owner_session, run, level="LOUD").status_code == 400


def test_it_needs_few_queries(owner_session, run, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert logs(owner_session, run, after_seq=1).status_code == 200
