from __future__ import annotations

import pytest
from django.urls import reverse

from console.tests.conftest import add_log
from runs.models import Artifact, Run, RunStatus

pytestmark = pytest.mark.django_db


def url(name: str, run: Run) -> str:
    return reverse(f"console:{name}", args=[run.project_id, run.pk])


def test_it_shows_status_progress_eta_command_and_artifacts(member_session, run):
    response = member_session.get(url("run-detail", run))
    page = response.content.decode()
    assert response.status_code == 200
    assert "badge-running" in page
    assert "step 40 of 100" in page
    assert "1:02:03" in page
    assert "bash run_train_full_sft.sh configs/qwen_demo.yaml" in page
    assert "checkpoint-40" in page and "BLEU 32.5" in page
    assert "CUDA hiccup" in page


def test_it_polls_the_status_panel_only_while_the_run_is_active(owner_session, run):
    assert 'hx-trigger="every 3s' in owner_session.get(url("run-status", run)).content.decode()
    run.transition(RunStatus.RUNNING, RunStatus.COMPLETED)
    panel = owner_session.get(url("run-status", run)).content.decode()
    assert "hx-trigger" not in panel
    assert "badge-completed" in panel


def test_it_gives_outsiders_404_on_every_run_endpoint(outsider_session, run):
    for name in ("run-detail", "run-status", "run-logs", "run-log-download", "run-metrics", "run-artifacts"):
        assert outsider_session.get(url(name, run)).status_code == 404, name


def test_it_404s_a_run_under_another_project(owner_session, run, owner):
    from projects.models import Project

    other = Project.objects.create(name="other", created_by=owner)
    assert owner_session.get(reverse("console:run-detail", args=[other.pk, run.pk])).status_code == 404


def test_it_downloads_the_whole_log_as_text(owner_session, run):
    response = owner_session.get(url("run-log-download", run))
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Disposition"].startswith("attachment")
    assert [line.split(" ", 2)[1:] for line in body.splitlines()] == [
        ["INFO", "training started"],
        ["WARNING", "dataset differs"],
        ["ERROR", "CUDA hiccup"],
    ]


def test_it_returns_metric_points_after_the_last_one_seen(owner_session, run):
    first = owner_session.get(url("run-metrics", run)).json()
    assert first["series"]["loss"] == [[10, 1.9], [20, 1.8], [30, 1.7], [40, 1.6]]
    assert first["series"]["eval_loss"] == [[40, 1.5]]
    assert first["active"] is True
    run.metric_points.create(name="loss", step=50, value=1.5)
    second = owner_session.get(url("run-metrics", run), {"after_id": first["last_id"]}).json()
    assert second["series"] == {"loss": [[50, 1.5]]}
    assert owner_session.get(url("run-metrics", run), {"after_id": "x"}).status_code == 400


def test_it_refreshes_artifacts_while_active(owner_session, run):
    Artifact.objects.create(run=run, name="checkpoint-80", type="checkpoint", path="/tmp/x/checkpoint-80", step=80)
    panel = owner_session.get(url("run-artifacts", run)).content.decode()
    assert "checkpoint-80" in panel and "every 5s" in panel


def test_it_needs_few_queries_however_long_the_log(owner_session, run, django_assert_max_num_queries):
    add_log(run, *[("INFO", f"step {number}") for number in range(500)])
    # session, user, run, artifacts, their tags, log lines, the runs resumed from it
    with django_assert_max_num_queries(7):
        assert owner_session.get(url("run-detail", run)).status_code == 200


def resumed_from(artifact: Artifact, name: str) -> Run:
    return Run.objects.create(
        project=artifact.run.project, name=name, status=RunStatus.COMPLETED, resume_source_artifact=artifact
    )


def test_it_links_the_chain_of_resumes_both_ways(member_session, run):
    second = resumed_from(run.artifacts.get(), "run-002")
    checkpoint = Artifact.objects.create(run=second, name="checkpoint-80", type="checkpoint", path="/tmp/x/80", step=80)
    third = resumed_from(checkpoint, "run-003")

    page = member_session.get(url("run-detail", third)).content.decode()
    chain = page.split('id="resumed-from"')[1].split("</ol>")[0]
    assert chain.index(url("run-detail", run)) < chain.index(url("run-detail", second))
    assert "checkpoint-40" in chain and "checkpoint-80" in chain
    first_page = member_session.get(url("run-detail", run)).content.decode()
    assert url("run-detail", second) in first_page.split('id="continued-by"')[1].split("</dd>")[0]


def test_it_leaves_out_of_the_chain_a_run_the_viewer_cannot_see(member_session, run, outsider):
    hidden_project = type(run.project).objects.create(name="hidden", created_by=outsider)
    hidden = Run.objects.create(project=hidden_project, name="theirs")
    checkpoint = Artifact.objects.create(run=hidden, name="checkpoint-9", type="checkpoint", path="/tmp/x/9", step=9)
    Run.objects.filter(pk=run.pk).update(resume_source_artifact=checkpoint)
    page = member_session.get(url("run-detail", run)).content.decode()
    assert "theirs" not in page and "checkpoint-9" not in page
    assert "a checkpoint of a run you cannot see" in page
