"""A project's runs table: chosen columns, sorting, search and filters, paging, and its cost."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console.models import RunTableColumns
from console.run_table import RUNS_PER_PAGE
from runs.models import Run, RunStatus
from runs.services import annotate_run

pytestmark = pytest.mark.django_db


def table(client, project, **params):
    return client.get(reverse("console:run-list", args=[project.pk]), params)


def names_in(response) -> list[str]:
    """Run names in table order."""
    body = response.content.decode().split('id="runs-table"')[1].split("</table>")[0]
    return re.findall(r'<a href="/console/projects/[^"]+/runs/[^"]+/">([^<]+)</a>', body)


def cells_of(response, run: Run) -> list[str]:
    body = response.content.decode()
    row = body.split(f'data-run="{run.pk}"')[1].split("</tr>")[0]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


@pytest.fixture
def runs(project, owner, member) -> list[Run]:
    """Three finished runs of `project` with different learning rates, losses, creators, tags and notes."""
    now = timezone.now()
    specs = [
        ("lr-small", owner, 1e-5, 0.9, RunStatus.COMPLETED, ["baseline"], "steady", 600),
        ("lr-large", member, 1e-4, 1.7, RunStatus.FAILED, ["sweep", "oom"], "ran out of memory at step 900", 60),
        ("lr-mid", owner, 5e-5, 1.2, RunStatus.COMPLETED, ["sweep"], "", 3600),
    ]
    made = []
    for number, (name, creator, lr, loss, status, tags, notes, seconds) in enumerate(specs):
        started = now - timedelta(hours=5 - number)
        made.append(
            Run.objects.create(
                project=project,
                name=name,
                created_by=creator,
                status=status,
                hyperparameters={"learning_rate": lr, "num_train_epochs": 3},
                metrics={"train/loss": loss, "eval/accuracy": 1 - loss / 2},
                tags=tags,
                notes=notes,
                started_at=started,
                completed_at=started + timedelta(seconds=seconds),
            )
        )
    return made


def test_it_shows_the_chosen_parameters_and_final_metrics_as_columns(member_session, project, runs):
    response = table(member_session, project, col=["hp:learning_rate", "m:train/loss"])
    assert response.status_code == 200
    cells = cells_of(response, runs[1])
    assert cells[1:4] == ["lr-large", "Failed", "bob"]
    assert cells[6] == "0:01:00"  # its duration
    assert cells[7:] == ["sweep oom", "ran out of memory at step 900", "0.0001", "1.7"]


def test_it_sorts_by_a_metric_a_parameter_or_its_own_columns_both_ways(owner_session, project, runs):
    assert names_in(table(owner_session, project, sort="m:train/loss")) == ["lr-small", "lr-mid", "lr-large"]
    assert names_in(table(owner_session, project, sort="-hp:learning_rate")) == ["lr-large", "lr-mid", "lr-small"]
    assert names_in(table(owner_session, project, sort="-duration")) == ["lr-mid", "lr-small", "lr-large"]
    assert names_in(table(owner_session, project, sort="name")) == ["lr-large", "lr-mid", "lr-small"]
    assert names_in(table(owner_session, project)) == ["lr-mid", "lr-large", "lr-small"]  # newest first


def test_it_links_each_heading_to_sorting_the_other_way(owner_session, project, runs):
    page = table(owner_session, project, sort="m:train/loss", col=["m:train/loss"]).content.decode()
    assert 'aria-sort="ascending"' in page
    assert "sort=-m%3Atrain%2Floss" in page


def test_it_puts_runs_without_the_sorted_value_last_either_way(owner_session, project, runs):
    Run.objects.create(project=project, name="queued-one", metrics={})
    assert names_in(table(owner_session, project, sort="m:train/loss"))[-1] == "queued-one"
    assert names_in(table(owner_session, project, sort="-m:train/loss"))[-1] == "queued-one"


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"q": "MEMORY"}, ["lr-large"]),
        ({"q": "lr-s"}, ["lr-small"]),
        ({"status": "completed"}, ["lr-mid", "lr-small"]),
        ({"tag": "sweep"}, ["lr-mid", "lr-large"]),
        ({"tag": "swe"}, []),
        ({"creator": "bob"}, ["lr-large"]),
        ({"tag": "sweep", "creator": "alice"}, ["lr-mid"]),
    ],
)
def test_it_searches_names_and_notes_and_filters_by_status_tag_and_creator(owner_session, project, runs, query, shown):
    response = table(owner_session, project, **query)
    assert (names_in(response) if shown else []) == shown
    if not shown:
        assert 'id="no-run-matches"' in response.content.decode()


def test_it_remembers_the_columns_a_person_picked_for_the_project(owner_session, member_session, project, runs):
    table(owner_session, project, columns="1", col=["m:eval/accuracy"])
    assert list(RunTableColumns.objects.values_list("columns", flat=True)) == [["m:eval/accuracy"]]
    page = table(owner_session, project).content.decode()
    assert ">eval/accuracy</a></th>" in page
    assert ">eval/accuracy</a></th>" not in table(member_session, project).content.decode()  # bob's are his own


def test_it_offers_the_keys_the_runs_have_and_starts_with_parameters_and_losses(member_session, project, runs):
    page = table(member_session, project).content.decode()
    for column in ("hp:learning_rate", "hp:num_train_epochs", "m:train/loss", "m:eval/accuracy"):
        assert f'value="{column}"' in page
    assert ">learning_rate</a></th>" in page and ">train/loss</a></th>" in page
    assert ">eval/accuracy</a></th>" not in page


def test_it_offers_the_keys_and_tags_of_every_run_not_only_the_latest(member_session, project, owner, runs):
    oldest = timezone.now() - timedelta(days=30)
    Run.objects.bulk_create(
        Run(project=project, name=f"r{number:03d}", created_by=owner, hyperparameters={"lora_rank": 8})
        for number in range(250)
    )
    Run.objects.filter(name="lr-small").update(
        created_at=oldest, hyperparameters={"warmup_ratio": 0.1}, metrics={"eval/bleu": 30.5}, tags=["first"]
    )

    page = table(member_session, project).content.decode()

    for column in ("hp:warmup_ratio", "hp:lora_rank", "hp:learning_rate", "m:eval/bleu", "m:train/loss"):
        assert f'value="{column}"' in page
    assert '<option value="first">' in page


def test_it_offers_the_keys_of_runs_launched_or_changed_since_it_last_read_them(member_session, project, owner, runs):
    table(member_session, project)  # the project's keys read once, and kept
    Run.objects.create(project=project, name="new", created_by=owner, hyperparameters={"lora_alpha": 16})
    annotate_run(run=runs[0], actor=owner, tags=["baseline", "shipped"])
    ingested = Run.objects.filter(pk=runs[1].pk)
    ingested.update(metrics={"eval/bleu": 30.5}, updated_at=timezone.now())  # as the log ingestion writes

    page = table(member_session, project).content.decode()

    for column in ("hp:lora_alpha", "hp:learning_rate", "m:eval/bleu", "m:train/loss"):
        assert f'value="{column}"' in page
    assert '<option value="shipped">' in page


def test_it_pages_a_long_table(owner_session, project, owner):
    Run.objects.bulk_create(Run(project=project, name=f"r{number:03d}", created_by=owner) for number in range(60))
    first, second = table(owner_session, project), table(owner_session, project, page=2)
    assert len(names_in(first)) == RUNS_PER_PAGE and len(names_in(second)) == 60 - RUNS_PER_PAGE
    assert "Page 2 of 2" in second.content.decode()
    assert 'id="run-count">(60)' in first.content.decode()


def test_it_gives_outsiders_404_and_shows_staff_the_table(outsider_session, staff_session, project, runs):
    assert table(outsider_session, project).status_code == 404
    assert names_in(table(staff_session, project, sort="name")) == ["lr-large", "lr-mid", "lr-small"]


@pytest.mark.parametrize("run_count", [3, 120])
def test_it_costs_the_same_queries_however_many_runs_and_columns(
    member_session, project, owner, run_count, django_assert_num_queries
):
    Run.objects.bulk_create(
        Run(
            project=project,
            name=f"r{number}",
            created_by=owner,
            hyperparameters={f"hp{key}": key for key in range(8)},
            metrics={f"m{key}": key / 10 for key in range(8)},
            tags=["sweep"],
        )
        for number in range(run_count)
    )
    few = {"col": ["hp:hp1"], "sort": "-m:m1", "tag": "sweep", "creator": "alice", "q": "r"}
    many = {**few, "col": [f"hp:hp{key}" for key in range(8)] + [f"m:m{key}" for key in range(8)]}
    # session, user, project, creators, offered keys, count, page, the project's members (can_operate)
    with django_assert_num_queries(8):
        assert table(member_session, project, **few).status_code == 200
    with django_assert_num_queries(8):
        assert table(member_session, project, **many).status_code == 200
