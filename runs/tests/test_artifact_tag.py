"""POST /projects/{ref}/runs/{id}/artifacts/{artifact_id}/tag and GET .../artifacts (paged)."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from runs.models import Artifact, ArtifactType, Run


@pytest.fixture
def artifact(project, tmp_path) -> Artifact:
    run = Run.objects.create(project=project, status="completed")
    return Artifact.objects.create(
        run=run, name="checkpoint-2000", type=ArtifactType.CHECKPOINT, path=str(tmp_path), size_bytes=123, step=2000
    )


def tag(client, artifact, body):
    url = f"/projects/{artifact.run.project.name}/runs/{artifact.run_id}/artifacts/{artifact.pk}/tag"
    return client.post(url, body, format="json")


@pytest.mark.parametrize(
    ("given", "stored"), [("release", "release"), ("发布", "release"), ("候选", "candidate"), ("归档", "archived")]
)
def test_it_tags_with_the_three_values_in_english_or_chinese(member_client, artifact, given, stored):
    response = tag(member_client, artifact, {"tag": given, "notes": "BLEU 32.5"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(artifact.pk)
    assert [(t["value"], t["notes"]) for t in body["tags"]] == [(stored, "BLEU 32.5")]
    assert body["tags"][0]["applied_at"]
    assert AuditEvent.objects.filter(object_id=str(artifact.pk), verb="tag").exists()


def test_it_keeps_one_tag_per_value_and_updates_its_notes(owner_client, artifact):
    tag(owner_client, artifact, {"tag": "candidate", "notes": "first"})
    tag(owner_client, artifact, {"tag": "release"})
    response = tag(owner_client, artifact, {"tag": "candidate", "notes": "second"})

    assert sorted((t["value"], t["notes"]) for t in response.json()["tags"]) == [
        ("candidate", "second"),
        ("release", ""),
    ]


@pytest.mark.parametrize("body", [{"tag": "gold"}, {"tag": ""}, {}, {"tag": "发布了"}])
def test_it_refuses_other_tags_with_400(owner_client, artifact, body):
    response = tag(owner_client, artifact, body)

    assert response.status_code == 400
    assert response.json()["detail"]
    assert not artifact.tags.exists()


def test_it_answers_404_for_an_artifact_of_another_run(owner_client, artifact, project):
    other_run = Run.objects.create(project=project)
    url = f"/projects/{project.name}/runs/{other_run.pk}/artifacts/{artifact.pk}/tag"

    assert owner_client.post(url, {"tag": "release"}, format="json").status_code == 404


def test_it_lists_a_runs_artifacts_with_their_tags(owner_client, outsider_client, artifact):
    tag(owner_client, artifact, {"tag": "release", "notes": "ship it"})
    url = f"/projects/{artifact.run.project.name}/runs/{artifact.run_id}/artifacts"

    response = owner_client.get(url)

    assert response.status_code == 200
    [item] = response.json()["items"]
    assert {key: item[key] for key in ("name", "type", "path", "size_bytes", "step")} == {
        "name": "checkpoint-2000",
        "type": "checkpoint",
        "path": artifact.path,
        "size_bytes": 123,
        "step": 2000,
    }
    assert item["tags"][0]["value"] == "release"
    assert outsider_client.get(url).status_code == 404


def test_it_pages_the_artifacts_oldest_first_keeping_the_items_envelope(owner_client, artifact):
    for step in (3000, 4000):
        Artifact.objects.create(
            run=artifact.run, name=f"checkpoint-{step}", type=ArtifactType.CHECKPOINT, path=f"/out/{step}", step=step
        )
    url = f"/projects/{artifact.run.project.name}/runs/{artifact.run_id}/artifacts"

    first = owner_client.get(url, {"limit": 2})
    rest = owner_client.get(url, {"limit": 2, "offset": 2})

    assert set(first.json()) == {"items"}
    assert [item["step"] for item in first.json()["items"] + rest.json()["items"]] == [2000, 3000, 4000]
    assert first["X-Total-Count"] == "3" and 'rel="next"' in first["Link"]
    assert owner_client.get(url, {"limit": 501}).status_code == 400
