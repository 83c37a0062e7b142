"""The run page in a real Chromium: lines and loss points appear without a reload."""

from __future__ import annotations

import pytest
from django.utils import timezone

from console.tests.browser import log_in, new_page, screenshot
from console.tests.conftest import add_log
from gpus.models import GpuClaim
from runs.models import MetricPoint, Run, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_shows_new_log_lines_and_metric_points_without_reloading(chromium_browser, live_server, run):
    page = new_page(chromium_browser, live_server)
    log_in(page, "alice", "pw-alice")
    page.goto(f"/console/projects/{run.project_id}/runs/{run.pk}/")
    page.wait_for_selector(".chart[data-metric='loss'] canvas")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads

    add_log(run, ("INFO", "{'loss': '0.9876', 'epoch': '0.5'}"), start=timezone.now())
    MetricPoint.objects.create(run=run, name="eval_accuracy", step=50, value=0.7)
    page.locator(".log-message", has_text="0.9876").wait_for()
    page.locator("[data-section='values'] tr[data-metric='eval_accuracy']").wait_for()  # one point: a table row

    run.transition(RunStatus.RUNNING, RunStatus.COMPLETED, progress=1.0, completed_at=timezone.now())
    page.locator("#run-status .badge-completed").wait_for()
    assert page.evaluate("window.loadedOnce") is True
    screenshot(page, "run-detail")


def test_it_switches_the_console_to_chinese(chromium_browser, live_server, run, settings):
    settings.GPU_IDS = "0,1"
    GpuClaim.objects.create(gpu_index=0, holder_kind="run", holder_id=str(run.pk), holder_label="run-001")
    page = new_page(chromium_browser, live_server)
    log_in(page, "alice", "pw-alice")
    page.locator("#language-select").select_option("zh-hans")
    page.locator(".language-switcher button").click()
    page.get_by_role("heading", name="仪表盘").wait_for()
    assert page.locator(".badge-running").first.inner_text() == "运行中"
    assert "训练运行 run-001" in page.locator("#gpus-title + .table-wrap").inner_text()
    Run.objects.filter(pk=run.pk).update(progress=0.9)
    page.locator("#dashboard-live .progress-label", has_text="90%").wait_for()  # refreshed in place
    screenshot(page, "dashboard-zh")


def test_it_serves_a_chinese_browser_in_chinese_on_a_laptop_screen(chromium_browser, live_server, run):
    page = new_page(chromium_browser, live_server, locale="zh-CN", width=1280, height=800)
    page.goto("/console/login/")
    assert page.get_by_role("heading", name="登录").is_visible()
    log_in(page, "alice", "pw-alice")
    page.goto(f"/console/projects/{run.project_id}/")
    page.get_by_role("heading", name="配置版本").wait_for()
    screenshot(page, "project-detail-zh-laptop")
