"""Deployment pages, driving the deployments app's stand-in vLLM server (deployments/tests/fixtures/fake_vllm.py:
vLLM needs a GPU, which these machines lack) through the real VLLM_COMMAND template."""

from __future__ import annotations

import html
import re
import shlex
from pathlib import Path

import pytest
from django.urls import reverse

from deployments.models import Deployment, DeploymentStatus
from deployments.tests.conftest import supervise_until
from deployments.tests.extra_args_probes import DANGEROUS, SHAPES
from gpus.models import GpuClaim

pytestmark = pytest.mark.django_db
CREATE = reverse("console:deployment-create")


def start(client, model: str, **fields):
    return client.post(CREATE, {"model_path": model, "health_path": "/health", "tags": "demo", **fields})


def test_it_shows_which_gpus_are_free_in_the_picker(owner_session, fake_vllm, run):
    GpuClaim.objects.create(gpu_index=0, holder_kind="run", holder_id=str(run.pk), holder_label="run-001")
    page = owner_session.get(CREATE).content.decode()
    gpu0 = page.split('id="gpu-0"')[1].split("</div>")[0]
    gpu1 = page.split('id="gpu-1"')[1].split("</div>")[0]
    assert "disabled" in gpu0 and "held by Training run run-001" in gpu0
    assert "disabled" not in gpu1 and "free" in gpu1


def test_it_starts_on_the_picked_gpu_and_shows_health_logs_and_stop(owner_session, fake_vllm, tiny_model):
    response = start(owner_session, tiny_model, preferred_gpu=1)
    deployment = Deployment.objects.get()
    assert response["Location"] == reverse("console:deployment-detail", args=[deployment.pk])
    assert deployment.gpu_id == 1
    supervise_until(deployment.pk, DeploymentStatus.RUNNING)
    page = owner_session.get(response["Location"]).content.decode()
    assert "badge-running" in page and "badge-healthy" in page
    assert "--served-model-name tiny-llama" in page
    assert "Yes, stop it" in page
    dashboard = owner_session.get(reverse("console:dashboard")).content.decode()
    assert "tiny-llama" in dashboard

    owner_session.post(reverse("console:deployment-stop", args=[deployment.pk]))
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.STOPPED
    assert not GpuClaim.objects.exists()


def test_it_tails_the_server_log_after_an_offset(owner_session, fake_vllm, tiny_model):
    start(owner_session, tiny_model)
    deployment = supervise_until(Deployment.objects.get().pk, DeploymentStatus.RUNNING)
    url = reverse("console:deployment-logs", args=[deployment.pk])
    first = owner_session.get(url, {"after": 0})
    assert first.status_code == 200 and "log-line" in first.content.decode()
    assert "after=0" not in first.content.decode()  # the poller moved on
    assert owner_session.get(url, {"after": "x"}).status_code == 400


def test_it_explains_a_refused_start(owner_session, fake_vllm):
    response = start(owner_session, "../outside")
    assert response.status_code == 400
    assert "MODELS_DIR" in response.content.decode() or "models directory" in response.content.decode()
    assert not Deployment.objects.exists()


def test_it_explains_that_the_picked_gpu_is_busy(owner_session, fake_vllm, tiny_model, run):
    GpuClaim.objects.create(gpu_index=1, holder_kind="run", holder_id=str(run.pk), holder_label="run-001")

    response = start(owner_session, tiny_model, preferred_gpu=1)

    assert response.status_code == 400
    assert "GPU 1 is held by run run-001." in response.content.decode()
    assert not Deployment.objects.exists()


def test_it_lets_only_the_owner_or_staff_stop(
    owner_session, member_session, outsider_session, fake_vllm, tiny_model, project
):
    start(owner_session, tiny_model, project=project.pk)
    deployment = Deployment.objects.get()
    detail = reverse("console:deployment-detail", args=[deployment.pk])
    assert "Yes, stop it" not in member_session.get(detail).content.decode()
    assert outsider_session.post(reverse("console:deployment-stop", args=[deployment.pk])).status_code == 404
    assert member_session.post(reverse("console:deployment-stop", args=[deployment.pk])).status_code == 403
    owner_session.post(reverse("console:deployment-stop", args=[deployment.pk]))


def test_it_lists_deployments_by_status(member_session, owner_session, fake_vllm, tiny_model, project):
    start(owner_session, tiny_model, project=project.pk)
    assert "tiny-llama" in member_session.get(reverse("console:deployment-list")).content.decode()
    assert (
        "tiny-llama"
        not in member_session.get(reverse("console:deployment-list"), {"status": "stopped"}).content.decode()
    )
    owner_session.post(reverse("console:deployment-stop", args=[Deployment.objects.get().pk]))


def test_it_shows_a_deployment_only_to_whom_it_is_shared_with(
    owner_session, member_session, outsider_session, staff_session, fake_vllm, tiny_model, project
):
    start(owner_session, tiny_model, served_model_name="alices-model")
    deployment = Deployment.objects.get()
    pages = [reverse(f"console:deployment-{name}", args=[deployment.pk]) for name in ("detail", "status", "logs")]

    for session in (member_session, outsider_session):
        assert "alices-model" not in session.get(reverse("console:deployment-list")).content.decode()
        assert "alices-model" not in session.get(reverse("console:dashboard")).content.decode()
        assert [session.get(page).status_code for page in pages] == [404, 404, 404]
    assert "alices-model" in staff_session.get(reverse("console:dashboard")).content.decode()
    assert staff_session.get(pages[0]).status_code == 200
    assert "Its owner and staff only" in owner_session.get(pages[0]).content.decode()
    owner_session.post(reverse("console:deployment-stop", args=[deployment.pk]))


def test_it_offers_a_released_artifact_from_the_run_page(owner_session, fake_vllm, run):
    artifact = run.artifacts.get()
    artifact.tags.create(value="release", notes="BLEU 33")
    run_page = owner_session.get(reverse("console:run-detail", args=[run.project_id, run.pk])).content.decode()
    link = f"{CREATE}?artifact_id={artifact.pk}"
    assert link in run_page
    form = owner_session.get(link).content.decode()
    assert f'<option value="{artifact.pk}" selected>qwen-finetune / run-001 / checkpoint-40</option>' in form


@pytest.mark.parametrize(
    ("extra_args", "named"), [*DANGEROUS, *((refused, option) for option, (_, refused) in sorted(SHAPES.items()))]
)
def test_it_refuses_extra_args_beyond_the_allowlist(owner_session, fake_vllm, tiny_model, extra_args, named):
    response = start(owner_session, tiny_model, extra_args=extra_args)

    assert response.status_code == 400
    assert f"`{named}`" in html.unescape(response.content.decode())
    assert not Deployment.objects.exists()


def test_it_starts_a_server_with_every_allowed_option(owner_session, fake_vllm, tiny_model, settings):
    extra_args = " ".join(allowed for allowed, _ in SHAPES.values())

    response = start(owner_session, tiny_model, extra_args=extra_args)

    assert response.status_code == 302, html.unescape(response.content.decode())
    argv = Deployment.objects.get().argv
    given = {shlex.split(allowed)[0].partition("=")[0] for allowed, _ in SHAPES.values()}
    assert given <= {word.partition("=")[0] for word in argv}
    template = Path(settings.MODELS_DIR, tiny_model, "chat_template.jinja").resolve()
    assert argv[argv.index("--chat-template") + 1] == str(template)  # the file that was checked


def test_it_disables_start_and_says_why_where_the_host_has_no_gpu(owner_session, fake_vllm):
    fake_vllm.GPU_IDS = ""
    page = owner_session.get(CREATE).content.decode()
    assert '<button type="submit" disabled aria-describedby="start-blocked">Start</button>' in page
    assert "This host has no GPU" in page.split('id="start-blocked"')[1]


def test_it_disables_start_and_says_vllm_is_not_installed(owner_session, fake_vllm, tiny_model):
    fake_vllm.VLLM_COMMAND = "vllm-not-here serve {model_path} --port {port}"
    page = owner_session.get(CREATE).content.decode()
    assert "vLLM is not installed on this host" in page.split('id="start-blocked"')[1]
    refused = start(owner_session, tiny_model)
    assert refused.status_code == 400
    assert "vLLM is not installed on this host" in refused.content.decode()
    assert not Deployment.objects.exists()


def test_it_keeps_start_enabled_where_a_gpu_and_vllm_are_there(owner_session, fake_vllm):
    page = owner_session.get(CREATE).content.decode()
    assert 'id="start-blocked"' not in page and '<button type="submit" >Start</button>' in page


def test_it_sends_a_test_chat_to_a_running_deployment_and_shows_answer_and_latency(
    owner_session, member_session, outsider_session, fake_vllm, tiny_model, project
):
    start(owner_session, tiny_model, project=project.pk)
    deployment = supervise_until(Deployment.objects.get().pk, DeploymentStatus.RUNNING)
    url = reverse("console:deployment-chat", args=[deployment.pk])
    assert (
        'id="deployment-chat"'
        in owner_session.get(reverse("console:deployment-detail", args=[deployment.pk])).content.decode()
    )

    panel = member_session.post(url, {"prompt": "你好", "max_tokens": 16}, HTTP_HX_REQUEST="true").content.decode()
    assert '<pre class="chat-answer">echo: 你好</pre>' in panel
    assert re.search(r"Answered in \d+ ms", panel)
    assert outsider_session.post(url, {"prompt": "hi", "max_tokens": 16}).status_code == 404
    too_long = owner_session.post(url, {"prompt": "x" * 4001, "max_tokens": 16})
    assert too_long.status_code == 400 and "chat-answer" not in too_long.content.decode()


def test_it_says_a_deployment_that_is_not_running_cannot_answer(owner_session, fake_vllm, tiny_model):
    start(owner_session, tiny_model)
    deployment = supervise_until(Deployment.objects.get().pk, DeploymentStatus.RUNNING)
    owner_session.post(reverse("console:deployment-stop", args=[deployment.pk]))
    url = reverse("console:deployment-chat", args=[deployment.pk])
    panel = owner_session.post(url, {"prompt": "hi", "max_tokens": 16}, HTTP_HX_REQUEST="true").content.decode()
    assert "not running: nothing answers" in panel and "chat-answer" not in panel
