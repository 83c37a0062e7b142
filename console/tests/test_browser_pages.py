"""More pages in a real Chromium: deployments (stand-in vLLM server, deployments/tests/fixtures/fake_vllm.py,
since vLLM needs a GPU), the de-identification playground, keyboard use, and laptop and wide-monitor layouts."""

from __future__ import annotations

import threading

import pytest

from console.tests.browser import log_in, new_page, screenshot
from deid import services as deid_services
from deid.engine import PolicyConfig
from deid.models import DEFAULT_POLICY_NAME, DeidPolicy
from deployments.models import Deployment, DeploymentStatus
from llmplatform import supervision
from runs.models import MetricPoint, Run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def deployment_supervisor(fake_vllm):
    loop = supervision.Loop("deployments")
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    yield
    loop.stop()
    thread.join(timeout=30)


def test_it_starts_a_deployment_on_a_free_gpu_and_stops_it(
    chromium_browser, live_server, owner, tiny_model, deployment_supervisor
):
    page = new_page(chromium_browser, live_server)
    log_in(page, "alice", "pw-alice")
    page.get_by_role("link", name="Deployments", exact=True).click()
    page.get_by_role("link", name="Start a deployment").click()
    page.get_by_label("Model folder").fill(tiny_model)
    page.get_by_label("Tags").fill("demo")
    page.locator("#gpu-1").check()
    screenshot(page, "deployment-form")
    page.get_by_role("button", name="Start", exact=True).click()
    page.evaluate("window.loadedOnce = true")
    page.locator("#deployment-status .badge-healthy").wait_for()  # starting → running, polled
    page.locator("#log-view .log-line").first.wait_for()
    assert page.evaluate("window.loadedOnce") is True
    assert "--served-model-name tiny-llama" in page.locator("#vllm-cmd").inner_text()
    screenshot(page, "deployment-detail")

    page.get_by_text("Stop", exact=True).click()
    page.get_by_role("button", name="Yes, stop it").click()
    page.locator("#deployment-status .badge-stopped").wait_for()
    assert Deployment.objects.get().status == DeploymentStatus.STOPPED


@pytest.fixture
def default_policy() -> DeidPolicy:
    """The migration's default policy; transactional tests flush it after the first such test, so remake it."""
    existing = DeidPolicy.objects.filter(name=DEFAULT_POLICY_NAME).first()
    return existing or deid_services.create_policy(name=DEFAULT_POLICY_NAME, config=PolicyConfig.default(), actor=None)


def test_it_highlights_pseudonyms_in_the_playground(chromium_browser, live_server, member, default_policy):
    page = new_page(chromium_browser, live_server, locale="zh-CN")
    log_in(page, "bob", "pw-bob")
    page.goto("/console/deid/")
    page.locator("#id_text").fill("客户王女士，手机号13812345678，身份证号 11010519491231002X，邮箱 wang@example.com")
    page.get_by_role("button", name="脱敏").click()
    page.locator("#deid-output mark[data-type='PHONE_NUMBER']").wait_for()
    assert "13812345678" not in page.locator("#deid-output").inner_text()
    screenshot(page, "deid-playground-zh")


def test_it_can_be_used_with_the_keyboard(chromium_browser, live_server, run):
    page = new_page(chromium_browser, live_server)
    log_in(page, "alice", "pw-alice")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(10):  # from the top of the content, a few Tabs reach the active run's link
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "run-001":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/runs/{run.pk}/")
    page.locator("summary", has_text="Cancel run").focus()
    page.keyboard.press("Enter")
    assert page.get_by_role("button", name="Yes, cancel this run").is_visible()


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 800, "laptop"), (2560, 1440, "wide")])
def test_it_lays_out_on_a_laptop_and_a_wide_monitor(chromium_browser, live_server, run, width, height, name):
    other = Run.objects.create(project=run.project, name="run-002", status="completed", progress=1.0)
    MetricPoint.objects.bulk_create(
        MetricPoint(run=other, name="loss", step=s, value=2.2 - s / 80) for s in (10, 20, 30, 40)
    )
    page = new_page(chromium_browser, live_server, width=width, height=height)
    log_in(page, "alice", "pw-alice")
    page.goto(f"/console/projects/{run.project_id}/runs/{run.pk}/")
    page.locator(".chart canvas").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    screenshot(page, f"run-detail-{name}")
    page.goto(f"/console/compare/?runs={run.pk}&runs={other.pk}")
    page.locator("#compare-charts .chart[data-metric='loss'] canvas").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"compare-{name}")
