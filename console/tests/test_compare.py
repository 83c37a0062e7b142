from __future__ import annotations

import json

import pytest
import yaml
from django.urls import reverse

from conftest import PROJECT_DATASET, PROJECT_TRAINING_YAML
from console.comparison import PALETTE, run_colours
from projects.models import Project
from runs.models import MetricPoint, Run
from runs.services import create_run

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


def parameter_rows(session, runs: list[Run]) -> list[str]:
    page = session.get(URL, {"runs": [run.pk for run in runs]}).content.decode()
    table = page[page.index('id="parameter-table"') : page.index("</table>", page.index('id="parameter-table"'))]
    return table.split("<tr")[2:]


def differing_names(rows: list[str]) -> list[str]:
    return [row.split('class="mono">')[1].split("<")[0] for row in rows if "same-parameter" not in row]


def test_it_shows_the_parameters_that_differ_and_hides_the_rest(owner_session, run, other):
    rows = parameter_rows(owner_session, [run, other])

    differing = [row for row in rows if "same-parameter" not in row]
    assert differing_names(rows) == ["learning_rate", "num_train_epochs"]
    assert "3e-05" in differing[0] and "0.0001" in differing[0] and "—" in differing[1]
    assert any("llama-2-13b" in row and "hidden" in row for row in rows)  # the same model: there, but hidden


def write_yaml(training_dir, name: str, **values) -> str:
    config = {"dataset": PROJECT_DATASET, "max_steps": 20, "save_steps": 10, "step_seconds": 0.01, **values}
    (training_dir / name).write_text(yaml.safe_dump(config))
    return name


def test_it_compares_what_runs_of_different_projects_train_with_not_only_their_overrides(
    owner_session, owner, project, training_dir
):
    longer = Project.objects.create(
        name="longer",
        created_by=owner,
        dataset_name=PROJECT_DATASET,
        training_yaml_name=write_yaml(training_dir, "configs/longer.yaml", max_steps=500, warmup_ratio=0.1),
    )
    runs = [
        Run.objects.create(project=each, name="run-001", training_yaml_name=each.training_yaml_name)
        for each in (project, longer)
    ]

    rows = parameter_rows(owner_session, runs)

    assert differing_names(rows) == ["Training YAML", "max_steps", "warmup_ratio"]
    max_steps = next(row for row in rows if ">max_steps<" in row)
    assert ">20<" in max_steps and ">500<" in max_steps
    assert not any(">learning_rate<" in row or ">output_dir<" in row for row in rows)


def test_it_compares_the_config_a_run_was_launched_with_when_its_yaml_changed_since(
    owner_session, owner, project, training_dir
):
    first = create_run(project=project, actor=owner)
    second = create_run(
        project=project,
        actor=owner,
        training_yaml_name=write_yaml(training_dir, "configs/lr.yaml", learning_rate=1e-3),
        hyperparameters={"lora_rank": 8},
    )
    write_yaml(training_dir, PROJECT_TRAINING_YAML, max_steps=999)  # edited after the launch

    rows = parameter_rows(owner_session, [first, second])

    assert differing_names(rows) == ["Training YAML", "lora_rank"]
    learning_rate = next(row for row in rows if ">learning_rate<" in row)  # the override wins over the YAML
    assert learning_rate.count(">3e-05<") == 2
    assert ">999<" not in "".join(rows) and ">output_dir<" not in "".join(rows)


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
