from __future__ import annotations

import pytest
from django.urls import reverse

from deployments.models import Deployment
from gpus.models import GpuClaim
from runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db
URL = reverse("console:dashboard")


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


def test_it_lists_active_runs_with_progress_and_eta(owner_session, run):
    response = owner_session.get(URL)
    page = response.content.decode()
    assert response.status_code == 200
    assert "run-001" in page and "qwen-finetune" in page
    assert 'aria-valuenow="40"' in page
    assert "1:02:03" in page  # ETA of 3723 s


def test_it_shows_recent_failures_but_not_finished_successes(owner_session, project):
    Run.objects.create(project=project, name="broke", status=RunStatus.FAILED)
    Run.objects.create(project=project, name="went-well", status=RunStatus.COMPLETED)
    page = owner_session.get(URL).content.decode()
    assert "broke" in page
    assert "went-well" not in page


def test_it_hides_runs_of_projects_the_user_cannot_see(outsider_session, run):
    page = outsider_session.get(URL).content.decode()
    assert "run-001" not in page


def test_it_shows_each_gpu_free_or_held(owner_session, settings, run):
    settings.GPU_IDS = "0,1"
    GpuClaim.objects.create(gpu_index=1, holder_kind="run", holder_id=str(run.pk), holder_label="run-001")
    response = owner_session.get(URL)
    rows = [row for row in response.content.decode().split("<tr>") if "<strong>" in row]
    assert len(rows) == 2
    assert "free" in rows[0]
    assert "run-001" in rows[1]


def test_it_shows_gpus_free_that_only_another_host_holds_gpus_of_the_index_of(owner_session, settings, run):
    settings.GPU_IDS = "0,1"
    GpuClaim.objects.create(host="gpu-b", gpu_index=0, holder_kind="run", holder_id=str(run.pk), holder_label="on-b")
    response = owner_session.get(URL)
    rows = [row for row in response.content.decode().split("<tr>") if "<strong>" in row]
    assert len(rows) == 2
    assert all("free" in row and "on-b" not in row for row in rows)


def test_it_names_the_holder_of_a_gpu_only_to_those_who_see_it(owner_session, outsider_session, settings, run):
    settings.GPU_IDS = "0,1"
    GpuClaim.objects.create(gpu_index=1, holder_kind="run", holder_id=str(run.pk), holder_label="qwen-finetune/run-001")

    def held_row(session) -> str:
        return [row for row in session.get(URL).content.decode().split("<tr>") if "<strong>" in row][1]

    assert "qwen-finetune/run-001" in held_row(owner_session)
    assert "Training run" in held_row(outsider_session) and "run-001" not in held_row(outsider_session)


def test_it_shows_running_deployments(owner_session, owner):
    Deployment.objects.create(
        created_by=owner, model_path="models/qwen", served_model_name="qwen-chat", status="running"
    )
    Deployment.objects.create(created_by=owner, model_path="models/old", served_model_name="old-chat", status="stopped")
    page = owner_session.get(URL).content.decode()
    assert "qwen-chat" in page and "old-chat" not in page


def test_it_needs_few_queries(owner_session, owner, project, run, django_assert_max_num_queries):
    for number in range(20):
        Run.objects.create(project=project, name=f"queued-{number}")
        Deployment.objects.create(created_by=owner, model_path="m", served_model_name=f"d{number}", status="running")
    with django_assert_max_num_queries(8):
        assert owner_session.get(URL).status_code == 200


def test_it_shows_each_visible_projects_disk_usage(owner_session, outsider_session, project):
    run = Run.objects.create(project=project, name="kept", status=RunStatus.COMPLETED)
    for step in (10, 20):
        run.artifacts.create(name=f"checkpoint-{step}", type="checkpoint", path=f"/o/c{step}", size_bytes=3 * 2**30)
    run.artifacts.create(name="events", type="event", path="/o/events", size_bytes=2**30)

    page = owner_session.get(URL).content.decode()
    disk = page[page.index('id="disk-title"') :]
    assert "qwen-finetune" in disk
    assert "6.0\xa0GB (2)" in disk and "7.0\xa0GB" in disk
    assert "free where runs write" in disk
    assert "qwen-finetune" not in outsider_session.get(URL).content.decode()
