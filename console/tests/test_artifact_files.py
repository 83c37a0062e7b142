"""A run's artifacts: files downloaded, checkpoint folders listed, nothing outside the run's folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from runs.models import Artifact, ArtifactType, Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_dir(run: Run, settings) -> Path:
    folder = Path(settings.RUNS_DIR) / str(run.pk)
    (folder / "output" / "checkpoint-40").mkdir(parents=True)
    (folder / "output" / "checkpoint-40" / "adapter_config.json").write_text('{"r": 8}')
    (folder / "output" / "checkpoint-40" / "optimizer").mkdir()
    (folder / "output" / "checkpoint-40" / "optimizer" / "state.pt").write_bytes(b"\0" * 3000)
    (folder / "config.yaml").write_text("learning_rate: 3.0e-05\n")
    Run.objects.filter(pk=run.pk).update(run_dir=str(folder), output_dir=str(folder / "output"))
    Artifact.objects.filter(run=run).update(path=str(folder / "output" / "checkpoint-40"))
    Artifact.objects.create(run=run, name="config.yaml", type=ArtifactType.CONFIG, path=str(folder / "config.yaml"))
    return folder


def download(client, artifact: Artifact, path: str = ""):
    url = reverse("console:artifact-download", args=[artifact.run.project_id, artifact.run_id, artifact.pk])
    return client.get(url, {"path": path} if path else {})


def listing(client, artifact: Artifact):
    return client.get(reverse("console:artifact-files", args=[artifact.run.project_id, artifact.run_id, artifact.pk]))


def test_it_streams_a_file_artifact_as_a_download(member_session, run, run_dir):
    response = download(member_session, Artifact.objects.get(name="config.yaml"))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="config.yaml"'
    assert b"".join(response.streaming_content) == b"learning_rate: 3.0e-05\n"


def test_it_lists_a_checkpoint_folder_and_downloads_its_files(owner_session, run, run_dir):
    checkpoint = Artifact.objects.get(name="checkpoint-40")
    page = listing(owner_session, checkpoint).content.decode()
    assert page.index("adapter_config.json") < page.index("optimizer/state.pt")
    assert str(run_dir / "output" / "checkpoint-40") in page
    assert "2.9\xa0KB" in page
    response = download(owner_session, checkpoint, "optimizer/state.pt")
    assert b"".join(response.streaming_content) == b"\0" * 3000


def test_it_answers_a_folders_download_with_its_listing(owner_session, run, run_dir):
    checkpoint = Artifact.objects.get(name="checkpoint-40")
    response = download(owner_session, checkpoint)
    assert response["Location"] == reverse("console:artifact-files", args=[run.project_id, run.pk, checkpoint.pk])


@pytest.mark.parametrize("path", ["../../config.yaml", "/etc/passwd", "optimizer", "missing.bin", "../checkpoint-40/x"])
def test_it_404s_paths_outside_the_folder_folders_and_missing_files(owner_session, run, run_dir, path):
    assert download(owner_session, Artifact.objects.get(name="checkpoint-40"), path).status_code == 404


def test_it_404s_an_artifact_whose_recorded_path_leaves_the_runs_folder(owner_session, run, run_dir, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not the run's")
    stray = Artifact.objects.create(run=run, name="stray", type=ArtifactType.LOG, path=str(secret))
    assert download(owner_session, stray).status_code == 404
    (run_dir / "output" / "link").symlink_to(secret)
    linked = Artifact.objects.create(run=run, name="link", type=ArtifactType.LOG, path=str(run_dir / "output" / "link"))
    assert download(owner_session, linked).status_code == 404


def test_it_gives_outsiders_404(outsider_session, run, run_dir):
    assert download(outsider_session, Artifact.objects.get(name="config.yaml")).status_code == 404
    assert listing(outsider_session, Artifact.objects.get(name="checkpoint-40")).status_code == 404


def test_it_shows_each_artifacts_path_and_link_checkpoints_sorted_by_step(owner_session, run, run_dir):
    for step in (100, 20):
        folder = run_dir / "output" / f"checkpoint-{step}"
        folder.mkdir()
        Artifact.objects.create(
            run=run, name=f"checkpoint-{step}", type=ArtifactType.CHECKPOINT, path=str(folder), step=step
        )
    page = owner_session.get(reverse("console:run-detail", args=[run.project_id, run.pk])).content.decode()
    panel = page.split('id="artifacts"')[1]
    assert panel.index("checkpoint-20<") < panel.index("checkpoint-40<") < panel.index("checkpoint-100<")
    assert str(run_dir / "output" / "checkpoint-100") in panel
    config = Artifact.objects.get(name="config.yaml")
    assert reverse("console:artifact-download", args=[run.project_id, run.pk, config.pk]) in panel
    assert (
        reverse("console:artifact-files", args=[run.project_id, run.pk, Artifact.objects.get(name="checkpoint-40").pk])
        in panel
    )
