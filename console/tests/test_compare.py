from __future__ import annotations

import json

import pytest
from django.urls import reverse

from console.comparison import PALETTE, run_colours
from projects.models import Project
from runs.models import MetricPoint, Run

pytestmark = pytest.mark.django_db
URL = reverse("console:compare")


def chart_runs(response) -> list[dict]:
    page = response.content.decode()
    start = page.index('type="application/json">', page.index('id="chart-runs"')) + len('type="application/json">')
    return json.loads(page[start : page.index("</script>", start)])


@pytest.fixture
def other(project) -> Run:
    other = Run.objects.create(
        project=project,
        name="run-002",
        model="llama-2-13b",
        dataset="datasets/qwen_demo.jsonl",
        training_yaml_name="configs/qwen_demo.yaml",
        hyperparameters={"learning_rate": 1e-4, "num_train_epochs": 2},
    )
    MetricPoint.objects.bulk_create(
        [
            MetricPoint(run=other, name="loss", step=step, value=value)
            for step, value in ((10, 2.5), (20, 1.2), (30, 1.4))
        ]
    )
    return other


def test_it_lists_the_chosen_runs_for_the_charts_each_in_its_own_colour(owner_session, run, other):
    picked = chart_runs(owner_session.get(URL, {"runs": [other.pk, run.pk]}))
    reversed_order = chart_runs(owner_session.get(URL, {"runs": [run.pk, other.pk]}))

    assert [item["label"] for item in picked] == ["qwen-finetune / run-001", "qwen-finetune / run-002"]
    assert picked == reversed_order  # the colour follows the run, not the order it was picked in
    assert len({item["colour"] for item in picked}) == 2
    assert picked[0]["metrics_url"] == reverse("console:run-metrics", args=[run.project_id, run.pk])


def test_it_gives_every_run_a_colour_of_its_own_from_its_id(project):
    runs = [Run.objects.create(project=project, name=f"run-{i}") for i in range(len(PALETTE))]
    colours = run_colours(runs)

    assert sorted(colours.values()) == sorted(PALETTE)
    assert run_colours(runs[3:5])[runs[3].pk] == PALETTE[runs[3].pk.int % len(PALETTE)]


def test_it_shows_the_parameters_that_differ_and_hides_the_rest(owner_session, run, other):
    page = owner_session.get(URL, {"runs": [run.pk, other.pk]}).content.decode()
    table = page[page.index('id="parameter-table"') : page.index("</table>", page.index('id="parameter-table"'))]

    rows = table.split("<tr")[2:]
    differing = [row for row in rows if "same-parameter" not in row]
    assert [row.split('class="mono">')[1].split("<")[0] for row in differing] == [
        "hyperparameters.learning_rate",
        "hyperparameters.num_train_epochs",
    ]
    assert "3e-05" in differing[0] and "0.0001" in differing[0] and "—" in differing[1]
    assert any("llama-2-13b" in row and "hidden" in row for row in rows)  # the same model: there, but hidden


def test_it_tables_each_metrics_final_and_best_value(owner_session, run, other):
    page = owner_session.get(URL, {"runs": [run.pk, other.pk]}).content.decode()
    table = page[page.index('id="final-metrics"') : page.index("</table>", page.index('id="final-metrics"'))]
    loss_row = table[table.index(">loss") : table.index("</tr>", table.index(">loss"))]

    assert "lower is better" in loss_row
    assert [cell.split("</span>")[0] for cell in loss_row.split('class="final">')[1:]] == ["1.6", "1.4"]
    assert [cell.split("</span>")[0] for cell in loss_row.split('class="best">')[1:]] == ["best 1.6", "best 1.2"]
    assert table.index(">loss") < table.index(">eval_loss")


def test_it_leaves_out_runs_the_user_cannot_see_and_ignores_bad_ids(member_session, run, outsider):
    hidden_project = Project.objects.create(name="secret", created_by=outsider)
    hidden = Run.objects.create(project=hidden_project, name="hidden-run")
    MetricPoint.objects.create(run=hidden, name="loss", step=1, value=9.0)
    response = member_session.get(URL, {"runs": [run.pk, hidden.pk, "not-a-uuid"]})
    assert response.status_code == 200
    assert [item["label"] for item in chart_runs(response)] == ["qwen-finetune / run-001"]
    assert "hidden-run" not in response.content.decode()


def test_it_asks_for_two_runs_when_given_fewer(owner_session, run):
    assert "Pick two or more runs" in owner_session.get(URL, {"runs": [run.pk]}).content.decode()
