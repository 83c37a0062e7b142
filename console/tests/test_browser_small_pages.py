"""The dashboard, a training config's page, the project form's file pickers and the API description in a real
Chromium, in English and Chinese, on a wide screen and a phone; screenshots under artifacts/screenshots/."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, override

from console.tests.browser import log_in, new_page, screenshot
from console.tests.test_configs import SFT_YAML
from console.tests.test_datasets import GOOD, add_file

# The pages the Chinese walk reads, with the states they come in (a failed file, a stalled run...).
from console.tests.test_zh_hans_pages import console_pages, failed_dataset_file, healed_runs  # noqa: F401
from datasets import services as dataset_services
from gpus.models import GpuClaim
from projects.models import Project
from runs.models import Run, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (Accept-Language, width): the two languages, each on a wide screen and a phone.
VIEWS = [("en-US", 1440), ("zh-CN", 390), ("en-US", 390), ("zh-CN", 1440)]


def view_name(locale: str, width: int) -> str:
    return f"{'zh' if locale.startswith('zh') else 'en'}-{width}"


def translated(locale: str, text: str) -> str:
    with override("zh-hans" if locale.startswith("zh") else "en"):
        return gettext(text)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def tallest_column_header(page) -> float:
    """The height of the page's tallest table column header: one line is about 30 px, a header
    squeezed to a character a line (预计剩余 on a phone) several times that."""
    return page.locator("main thead th").evaluate_all(
        "headers => Math.max(...headers.map(header => header.getBoundingClientRect().height))"
    )


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_shows_the_runs_and_gpus_on_the_dashboard(chromium_browser, live_server, run, settings, locale, width):
    settings.GPU_IDS = "0,1"
    GpuClaim.objects.create(gpu_index=0, holder_kind="run", holder_id=str(run.pk), holder_label=run.name)
    Run.objects.create(
        project=run.project,
        name="run-000",
        status=RunStatus.FAILED,
        created_by=run.created_by,
        completed_at=timezone.now(),
    )
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    log_in(page, "alice", "pw-alice")

    page.get_by_role("heading", name=translated(locale, "Dashboard")).wait_for()
    assert page.locator("section[aria-labelledby=active-runs-title] a", has_text="run-001").is_visible()
    assert page.locator("section[aria-labelledby=failures-title] a", has_text="run-000").is_visible()
    gpus = page.locator("section[aria-labelledby=gpus-title] tbody tr")
    assert gpus.count() == 2 and "run-001" in gpus.first.inner_text()
    assert fits_the_screen(page)  # the tables scroll inside their panels
    assert tallest_column_header(page) < 40
    screenshot(page, f"dashboard-{view_name(locale, width)}")


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_leads_from_a_training_config_back_to_the_configs(chromium_browser, live_server, owner, locale, width):
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    log_in(page, "alice", "pw-alice")
    page.goto(reverse("console:config-list"))
    page.locator("#config-file").set_input_files(
        files=[{"name": "sft.yaml", "mimeType": "application/yaml", "buffer": SFT_YAML}]
    )
    page.locator("section[aria-labelledby=config-upload-title] button[type=submit]").click()
    page.locator("#config-yaml").wait_for()

    breadcrumb = page.locator("main p.muted a").first
    assert breadcrumb.inner_text() == translated(locale, "Training configs")
    # On a phone the sections scroll sideways in one row: the one the reader is in shows, not cut off.
    section = page.locator(".mainnav a[aria-current=page]")
    assert section.inner_text() == translated(locale, "Configs")
    assert section.evaluate("node => node.getBoundingClientRect().right") <= width
    assert fits_the_screen(page)
    screenshot(page, f"config-detail-{view_name(locale, width)}")
    breadcrumb.click()
    page.wait_for_url(f"**{reverse('console:config-list')}")
    page.locator("#configs-title + .table-wrap a", has_text="sft.yaml").wait_for()


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_offers_the_uploaded_files_and_one_list_of_task_types_to_a_new_project(
    chromium_browser, live_server, owner, tmp_path, locale, width
):
    dataset = dataset_services.create_dataset(name="qwen-sft", task_type="sft", created_by=owner)
    stored = add_file(dataset, tmp_path, [json.dumps(GOOD)])
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    log_in(page, "alice", "pw-alice")
    page.goto(reverse("console:project-create"))

    offered = page.locator("#dataset-files option").evaluate_all("options => options.map(o => [o.value, o.label])")
    assert offered == [[stored.relative_path, "qwen-sft / train.jsonl"]]
    task_types = page.locator("#id_task_type option").evaluate_all("options => options.map(o => o.value)")
    assert task_types == ["", "sft", "lora", "rl", "pretrain"]  # the datasets' list
    page.locator("#id_name").fill(f"picked-{view_name(locale, width)}")
    page.locator("#id_task_type").select_option("lora")
    page.locator("#id_dataset_name").fill(stored.relative_path)
    assert fits_the_screen(page)  # the trainer's long first choice included
    screenshot(page, f"project-form-{view_name(locale, width)}")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/console/projects/*/")
    project = Project.objects.get(name=f"picked-{view_name(locale, width)}")
    assert (project.dataset_name, project.task_type) == (stored.relative_path, "lora")


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_groups_every_endpoint_of_the_api_description_under_a_name(chromium_browser, live_server, locale, width):
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    page.goto("/docs")
    page.locator(".opblock-tag-section").first.wait_for()
    groups = page.locator(".opblock-tag-section h3").evaluate_all("tags => tags.map(t => t.dataset.tag)")
    assert "de-identification" in groups and "v1" not in groups and "default" not in groups
    deid = page.locator(".opblock-tag-section", has=page.locator("h3[data-tag='de-identification']"))
    summaries = deid.locator(".opblock-summary-description")
    summaries.first.wait_for()
    assert all(text.strip() for text in summaries.all_inner_texts())  # each operation says what it does
    assert fits_the_screen(page)
    screenshot(page, f"api-docs-{view_name(locale, width)}")


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_it_fits_every_console_page_on_a_phone(chromium_browser, live_server, staff, request, locale):
    pages = request.getfixturevalue("console_pages")
    page = new_page(chromium_browser, live_server, locale=locale, width=390, height=844)
    log_in(page, "operator", "pw-operator")
    too_wide = {}
    for path in pages:
        page.goto(path)
        page.wait_for_load_state("load")
        a_page = page.locator("header.topbar").count() == 1  # not a panel's fragment, fetched alone
        if a_page and not fits_the_screen(page):
            too_wide[path] = page.evaluate("document.documentElement.scrollWidth")
    assert too_wide == {}
