"""Datasets, training YAMLs, deployments, a project's versions, the audit log and the API token in a real
Chromium, in English and Chinese, on a wide screen and a phone; screenshots under artifacts/screenshots/."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from audit.services import record_event
from console.tests.browser import log_in, new_page, screenshot
from datasets import services as dataset_services
from deployments.models import DeploymentStatus
from deployments.services import create_deployment
from deployments.tests.conftest import supervise_until
from projects.models import ProjectVersion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (Accept-Language, width): the two languages, each on a wide screen and a phone.
VIEWS = [("en-US", 1440), ("zh-CN", 390), ("en-US", 390), ("zh-CN", 1440)]
GOOD = {"messages": [{"role": "user", "content": "指令"}, {"role": "assistant", "content": "回答"}]}


def view_name(locale: str, width: int) -> str:
    return f"{'zh' if locale.startswith('zh') else 'en'}-{width}"


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_uploads_a_file_that_fails_validation_and_says_why(chromium_browser, live_server, owner, locale, width):
    name = view_name(locale, width)
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    log_in(page, "alice", "pw-alice")
    page.goto("/console/datasets/")
    page.locator("#no-datasets a").wait_for()
    assert fits_the_screen(page)
    screenshot(page, f"datasets-empty-{name}")

    dataset = dataset_services.create_dataset(name="qwen-sft", task_type="sft", created_by=owner)
    page.goto(f"/console/datasets/{dataset.pk}/")
    lines = [json.dumps(GOOD), '{"messages": [oops]}', json.dumps({"messages": []}), json.dumps(GOOD)]
    page.locator("#upload-file").set_input_files(
        files=[{"name": "train.jsonl", "mimeType": "application/json", "buffer": "\n".join(lines).encode() + b"\n"}]
    )
    page.locator("#upload-start").click()
    page.locator("#upload-status.errorlist").wait_for()
    status = page.locator("#upload-status").inner_text()
    if locale == "en-US":
        assert status.startswith(
            "Uploaded, but it failed validation: line 2: not valid JSON: Expecting value at column 15"
        )
    else:
        assert status.startswith(
            "已上传，但未通过校验： 第 2 行: 不是有效的 JSON：第 15 列缺少值"
        )  # the API's reason, translated
    page.locator("#dataset-files .badge-invalid").first.wait_for()
    records, errors = page.locator("#dataset-files tbody td.num").all_inner_texts()[1:]
    assert (records, errors) == ("2", "3")  # the two good lines, not the bad one that parsed as a record
    screenshot(page, f"dataset-upload-invalid-{name}")

    page.locator("#dataset-files td a").first.click()
    page.locator("#line-2 .bad-line").wait_for()
    assert page.locator("#line-2 .bad-line").inner_text() == '{"messages": [oops]}'
    assert page.locator("#record-counts dd").all_inner_texts()[:2] == ["2", "2"]
    assert page.locator("#statistics .bar-row").count() >= 2
    assert fits_the_screen(page)
    screenshot(page, f"dataset-file-report-{name}")


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_says_where_a_training_yaml_breaks_in_the_readers_language(
    chromium_browser, live_server, owner, locale, width
):
    name = view_name(locale, width)
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    log_in(page, "alice", "pw-alice")
    page.goto(reverse("console:config-list"))
    page.locator("#config-file").set_input_files(
        files=[{"name": "sft.yaml", "mimeType": "application/yaml", "buffer": b"task_type: sft\n  model: qwen\n"}]
    )
    page.locator("section[aria-labelledby=config-upload-title] button[type=submit]").click()
    problem = page.locator("div[role=alert] .errorlist li")
    problem.wait_for()
    if locale == "en-US":
        assert problem.inner_text() == "not valid YAML: mapping values are not allowed here (line 2, column 8)"
    else:
        assert problem.inner_text() == "不是有效的 YAML：此处不允许出现映射值（第 2 行，第 8 列）"
    assert fits_the_screen(page)
    screenshot(page, f"config-yaml-invalid-{name}")


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_sends_a_test_chat_to_a_running_deployment(
    chromium_browser, live_server, owner, fake_vllm, tiny_model, locale, width
):
    deployment = create_deployment(actor=owner, model_path=tiny_model, preferred_gpu=0)
    supervise_until(deployment.pk, DeploymentStatus.RUNNING)
    name = view_name(locale, width)
    page = new_page(chromium_browser, live_server, locale=locale, width=width)
    log_in(page, "alice", "pw-alice")
    page.goto(f"/console/deployments/{deployment.pk}/")
    page.locator("#id_prompt").fill("你好, tiny-llama")
    page.locator("#deployment-chat button[type=submit]").click()
    page.locator("#chat-answer").wait_for()
    assert page.locator("#deployment-chat pre.chat-answer").inner_text() == "echo: 你好, tiny-llama"
    assert re.match(r"(Answered in \d+ ms|用时 \d+ 毫秒)", page.locator("#chat-latency").inner_text())
    message = page.locator("#log-view .log-message").first
    message.wait_for()
    # The server's log lines run the width of the log, not down a column a word wide.
    assert message.evaluate("node => node.offsetWidth / node.closest('#log-view').offsetWidth") > 0.6
    assert fits_the_screen(page)
    screenshot(page, f"deployment-chat-{name}")


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_shows_versions_the_audit_log_the_token_and_a_blocked_start(
    chromium_browser, live_server, owner, staff, project, fake_vllm, locale, width
):
    ProjectVersion.objects.create(
        project=project,
        version=2,
        changed_by="alice",
        changes={"tags": [["demo", "候选"], ["demo"]], "default_hyperparameters": [{"lr": 3e-5}, {"lr": 1e-5}]},
    )
    record_event(actor=None, action="action", target=project, verb="archive")
    fake_vllm.VLLM_COMMAND = "vllm-not-here serve {model_path} --port {port}"
    name = view_name(locale, width)
    page = new_page(chromium_browser, live_server, locale=locale, width=width)
    log_in(page, "operator", "pw-operator")

    page.goto(f"/console/projects/{project.pk}/")
    versions = page.locator("#version-2 table.changes")
    versions.wait_for()
    panel = page.locator("#version-2").evaluate("node => node.closest('.panel').getBoundingClientRect().right")
    assert versions.evaluate("node => node.getBoundingClientRect().right") <= panel + 1
    header = page.locator("#version-2 thead th").nth(1)
    assert header.evaluate("node => node.getBoundingClientRect().height") < 40  # one line, not a letter a line
    page.locator("#version-2").scroll_into_view_if_needed()
    screenshot(page, f"project-versions-{name}")

    page.goto("/console/audit/")
    page.locator("td a[href*='/console/projects/']").first.wait_for()
    assert "projects.project" not in page.locator("main tbody").inner_text()
    screenshot(page, f"audit-log-{name}")

    page.locator(".user-menu summary").click()
    page.locator(".user-menu-items a[href='/console/api-token/']").click()
    page.locator("#token-reveal summary").click()
    old = staff.auth_token.key
    assert page.locator("#token-key").inner_text() == old
    page.locator("#token-rotate").click()
    page.locator("ul.messages").wait_for()
    page.locator("#token-reveal summary").click()
    assert page.locator("#token-key").inner_text() == Token.objects.get(user=staff).key != old
    screenshot(page, f"api-token-{name}")

    page.goto("/console/deployments/new/")
    start = page.locator("main form button[type=submit]")
    assert start.is_disabled()
    assert start.evaluate("node => getComputedStyle(node).opacity") == "0.5"  # greyed out, not a live blue button
    assert "vllm-not-here" in page.locator("#start-blocked").inner_text()
    assert fits_the_screen(page)
    screenshot(page, f"deployment-start-blocked-{name}")
