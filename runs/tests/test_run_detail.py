"""GET /projects/{ref}/runs and /projects/{ref}/runs/{id}."""

from __future__ import annotations

from pathlib import Path

from django.db import connection
from rest_framework.renderers import JSONRenderer

from llmplatform.prepared import sends_together
from llmplatform.testing import counting_round_trips
from runs.ingest import ingest_run
from runs.models import Artifact, ArtifactTag, ArtifactType, LogLine, Run
from runs.serializers import RunDetailSerializer
from runs.tests.ingest_support import append, log_path, make_run, write_checkpoint

CONTRACT_FIELDS = {
    "id", "project_id", "name", "status", "created_at", "updated_at", "started_at", "completed_at",
    "cancelled_at", "progress", "metrics", "gpu_utilization", "start_command", "hyperparameters",
    "resources", "artifacts", "logs", "resume_source_artifact_id", "resumed_from",
}  # fmt: skip


def busy_run(project, tmp_path) -> Run:
    run = Run.objects.create(project=project, status="running", progress=0.4, metrics={"train_loss": 1.72})
    for step in range(1, 6):
        artifact = Artifact.objects.create(
            run=run, name=f"checkpoint-{step}", type=ArtifactType.CHECKPOINT, path=str(tmp_path / str(step)), step=step
        )
        ArtifactTag.objects.create(artifact=artifact, value="candidate")
    LogLine.objects.bulk_create(
        LogLine(run=run, seq=seq, timestamp=run.created_at, message=f"line {seq}") for seq in range(1, 101)
    )
    Run.objects.filter(pk=run.pk).update(next_log_seq=101)
    return run


def round_trips(statements: int) -> int:
    """After the token's: one where the database takes several statements at once, else one each."""
    return 1 + (1 if sends_together(connection) else statements)


def test_it_shows_the_contract_fields_in_few_round_trips(owner_client, project, tmp_path):
    run = busy_run(project, tmp_path)

    # token; then project, run, artifacts with their tags, recent log lines
    with counting_round_trips() as trips:
        response = owner_client.get(f"/projects/{project.name}/runs/{run.pk}")
    assert len(trips) == round_trips(4)

    assert response.status_code == 200
    body = response.json()
    assert body.keys() >= CONTRACT_FIELDS
    assert body["project_id"] == str(project.pk)
    assert body["metrics"] == {"train_loss": 1.72}
    assert len(body["artifacts"]) == 5 and body["artifacts"][0]["tags"][0]["value"] == "candidate"
    assert body["latest_checkpoint"]["name"] == "checkpoint-5"
    assert [line["message"] for line in body["logs"]] == [f"line {seq}" for seq in range(81, 101)]
    assert set(body["logs"][0]) >= {"timestamp", "level", "message"}
    # polled again: the same reads, the same answer
    with counting_round_trips() as trips:
        assert owner_client.get(f"/projects/{project.name}/runs/{run.pk}").json() == body
    assert len(trips) == round_trips(4)


def test_it_shows_what_the_runs_own_lookup_shows_with_its_creator(owner, owner_client, staff_client, project, tmp_path):
    run = busy_run(project, tmp_path)
    Run.objects.filter(pk=run.pk).update(created_by=owner)
    by_id = f"/projects/{project.pk}/runs/{run.pk}"  # a UUID reference: looked up by id, then by name

    with counting_round_trips() as trips:  # token; project, run, creator, artifacts, lines
        response = owner_client.get(by_id)
    assert len(trips) == round_trips(5)

    # byte for byte what the run's plain lookup renders (as after changing its notes)
    fresh = Run.objects.select_related("created_by").get(pk=run.pk)
    assert response.content == JSONRenderer().render(RunDetailSerializer(fresh).data)
    assert response.json()["created_by"] == "alice"
    assert staff_client.get(by_id).content == response.content


def test_it_answers_404_for_unknown_or_foreign_runs(owner_client, outsider_client, owner, project):
    from projects.services import create_project

    run = Run.objects.create(project=project)
    other = create_project(actor=owner, fields={"name": "other"})

    assert owner_client.get(f"/projects/{project.name}/runs/{run.pk}").status_code == 200
    assert owner_client.get(f"/projects/other/runs/{run.pk}").status_code == 404
    assert owner_client.get(f"/projects/{project.name}/runs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert owner_client.get(f"/projects/{project.name}/runs/not-a-uuid").status_code == 404
    assert outsider_client.get(f"/projects/{project.name}/runs/{run.pk}").status_code == 404
    assert other.runs.count() == 0


def test_it_lists_the_projects_runs_newest_first(owner_client, project, django_assert_max_num_queries):
    runs = [Run.objects.create(project=project, name=f"r{index}") for index in range(3)]
    Run.objects.filter(pk=runs[0].pk).update(status="completed")

    with django_assert_max_num_queries(5):
        response = owner_client.get(f"/projects/{project.pk}/runs")

    assert response.status_code == 200
    assert [item["name"] for item in response.json()] == ["r2", "r1", "r0"]
    assert response["X-Total-Count"] == "3"
    assert [item["name"] for item in owner_client.get(f"/projects/{project.name}/runs?status=completed").json()] == [
        "r0"
    ]
    assert owner_client.get(f"/projects/{project.name}/runs?status=lost").status_code == 400
    assert owner_client.get(f"/projects/{project.name}/runs?limit=0").status_code == 400


# Each way a run's artifacts, tags and recent lines change shows in the next detail.


def detail(client, run: Run) -> dict:
    response = client.get(f"/projects/{run.project.name}/runs/{run.pk}")
    assert response.status_code == 200
    return response.json()


def test_it_shows_lines_and_checkpoints_the_trainer_writes_after_a_poll(staff_client):
    run = make_run()
    append(log_path(run), "step 1\n")
    ingest_run(run)
    assert [line["message"] for line in detail(staff_client, run)["logs"]] == ["step 1"]

    append(log_path(run), "step 2\n")
    ingest_run(run)
    assert [line["message"] for line in detail(staff_client, run)["logs"]] == ["step 1", "step 2"]

    write_checkpoint(Path(run.output_dir), 10)  # saved while the trainer prints nothing
    ingest_run(run)
    body = detail(staff_client, run)
    assert [artifact["name"] for artifact in body["artifacts"]] == ["checkpoint-10"]
    assert body["latest_checkpoint"]["step"] == 10


def test_it_shows_a_redrawn_progress_bar_after_a_poll(staff_client):
    run = make_run()
    append(log_path(run), "train:  10%|#  | 1/10\r")
    ingest_run(run)
    assert detail(staff_client, run)["logs"][-1]["message"].endswith("1/10")

    append(log_path(run), "train:  20%|## | 2/10\r")
    ingest_run(run)
    assert detail(staff_client, run)["logs"][-1]["message"].endswith("2/10")


def test_it_shows_a_tag_right_after_tagging(owner_client, project, tmp_path):
    run = busy_run(project, tmp_path)
    artifact = detail(owner_client, run)["artifacts"][0]
    assert [tag["value"] for tag in artifact["tags"]] == ["candidate"]

    url = f"/projects/{project.name}/runs/{run.pk}/artifacts/{artifact['id']}/tag"
    assert owner_client.post(url, {"tag": "release"}, format="json").status_code == 200

    assert [tag["value"] for tag in detail(owner_client, run)["artifacts"][0]["tags"]] == ["candidate", "release"]


def test_it_shows_what_operators_change_in_the_admin(admin_client, staff_client, project, tmp_path):
    run = busy_run(project, tmp_path)
    first, second = (artifact["id"] for artifact in detail(staff_client, run)["artifacts"][:2])

    added = admin_client.post("/admin/runs/artifacttag/add/", {"artifact": first, "value": "archived", "notes": ""})
    assert added.status_code == 302
    assert admin_client.post(f"/admin/runs/artifact/{second}/delete/", {"post": "yes"}).status_code == 302

    artifacts = detail(staff_client, run)["artifacts"]
    assert [tag["value"] for tag in artifacts[0]["tags"]] == ["candidate", "archived"]
    assert second not in [artifact["id"] for artifact in artifacts]
