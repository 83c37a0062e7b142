"""A project's runs table and a run's page in a real Chromium, in English and Chinese, on a wide
screen and a phone: columns, sorting, filters, notes, clone and edit; following that ends with
the run, the resume chain, artifacts; screenshots under artifacts/screenshots/."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django.utils.translation import gettext, override

from console.tests.browser import log_in, new_page, screenshot
from console.tests.conftest import add_log
from runs.models import Artifact, ArtifactType, Run, RunStatus

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


def sweep(project, owner, member, count: int = 60) -> list[Run]:
    """`count` finished runs of a learning-rate sweep, every third one tagged `best`."""
    now = timezone.now()
    return Run.objects.bulk_create(
        Run(
            project=project,
            name=f"sweep-{number:03d}",
            created_by=owner if number % 2 else member,
            status=RunStatus.COMPLETED if number % 5 else RunStatus.FAILED,
            hyperparameters={"learning_rate": (number + 1) * 1e-6, "lora_rank": 8 * (1 + number % 4)},
            metrics={"train/loss": 2.0 - number / 50, "eval/loss": 2.2 - number / 60},
            tags=["best"] if number % 3 == 0 else [],
            resources={"gpu_count": 0, "gpu_type": "L4", "memory": "32G"},
            notes="diverged after warm-up" if number == 7 else "",
            created_at=now - timedelta(minutes=count - number),
            started_at=now - timedelta(minutes=count - number),
            completed_at=now - timedelta(minutes=count - number) + timedelta(seconds=30 * (number + 1)),
        )
        for number in range(count)
    )


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_picks_columns_sorts_filters_notes_and_clones_a_run(
    chromium_browser, live_server, project, owner, member, locale, width
):
    sweep(project, owner, member)
    name = view_name(locale, width)
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    log_in(page, "alice", "pw-alice")
    page.goto(f"/console/projects/{project.pk}/")
    page.locator("#all-runs").click()
    page.locator("#runs-table").wait_for()
    assert page.locator("#runs-table tbody tr").count() == 50  # a page of them

    page.locator("#column-picker summary").click()
    page.locator("#column-picker input[value='m:eval/loss']").check()
    page.locator("#column-picker input[value='hp:lora_rank']").check()
    page.locator("#column-picker button[type=submit]").click()
    page.locator("#runs-table th a", has_text="eval/loss").click()  # a metric: highest first
    page.wait_for_url("**sort=-m%3Aeval%2Floss**")
    page.locator("#runs-table th a", has_text="eval/loss").click()  # then lowest first
    page.wait_for_url("**sort=m%3Aeval%2Floss**")
    assert page.locator("#runs-table tbody tr td:nth-child(2)").first.inner_text() == "sweep-059"

    page.locator("#id_tag").fill("best")
    page.locator("#id_creator").select_option("bob")
    page.locator("#run-filters button[type=submit]").click()
    page.wait_for_url("**tag=best**")
    shown = page.locator("#runs-table tbody tr td:nth-child(2)").all_inner_texts()
    assert shown == [f"sweep-{number:03d}" for number in range(58, -1, -2) if number % 3 == 0]
    assert page.locator("#runs-table thead th[aria-sort='ascending']").count() == 1
    assert fits_the_screen(page)  # the table scrolls inside its panel
    screenshot(page, f"runs-table-{name}")

    page.goto(f"/console/projects/{project.pk}/runs/?q=sweep-007")  # the columns are remembered
    page.locator("#runs-table th a", has_text="lora_rank").wait_for()
    page.locator("#runs-table a", has_text="sweep-007").click()
    page.locator("#run-notes details").evaluate("node => node.open = true")
    page.locator("#run-notes #id_notes").fill("学习率太高, diverged")
    page.locator("#run-notes #id_tags").fill("sweep, 基线")
    page.locator("#run-notes button[type=submit]").click()
    page.locator("#run-tags .badge", has_text="基线").wait_for()
    assert "学习率太高" in page.locator("#run-notes-text").inner_text()

    page.locator("#clone-run").click()
    page.locator("#clone-source").wait_for()
    hyperparameters = page.locator("#id_hyperparameters")
    assert '"lora_rank": 32' in hyperparameters.input_value()
    assert page.locator("#id_gpu_type").input_value() == "L4"
    assert '"memory": "32G"' in page.locator("#id_resources").input_value()
    hyperparameters.fill('{"learning_rate": 2e-05, "lora_rank": 64}')
    page.locator("#id_name").fill(f"clone-{name}")
    page.locator("#new-run button[type=submit]").click()
    page.locator("#run-title", has_text=f"clone-{name}").wait_for()
    clone = Run.objects.get(name=f"clone-{name}")
    assert clone.hyperparameters == {"learning_rate": 2e-05, "lora_rank": 64}
    assert clone.resources == {"gpu_count": 0, "gpu_type": "L4", "memory": "32G"}
    assert fits_the_screen(page)
    screenshot(page, f"run-cloned-{name}")


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_follows_until_the_run_ends_and_links_resumes_and_artifacts(
    chromium_browser, live_server, run, settings, locale, width
):
    folder = Path(settings.RUNS_DIR) / str(run.pk)
    checkpoint = folder / "output" / "checkpoint-40"
    checkpoint.mkdir(parents=True)
    (checkpoint / "adapter_model.safetensors").write_bytes(b"\0" * 4096)
    (folder / "config.yaml").write_text("learning_rate: 3.0e-05\n")
    Run.objects.filter(pk=run.pk).update(run_dir=str(folder), output_dir=str(folder / "output"))
    Artifact.objects.filter(run=run).update(path=str(checkpoint))
    Artifact.objects.create(run=run, name="config.yaml", type=ArtifactType.CONFIG, path=str(folder / "config.yaml"))
    resumed = Run.objects.create(
        project=run.project,
        name="run-002",
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        resume_source_artifact=Artifact.objects.get(name="checkpoint-40"),
        run_dir=str(folder.parent / "resumed"),
    )
    add_log(resumed, ("INFO", "resumed from checkpoint-40"))
    name = view_name(locale, width)
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    log_in(page, "alice", "pw-alice")

    page.goto(f"/console/projects/{run.project_id}/runs/{resumed.pk}/")
    following = translated(locale, "Following: new lines appear as the run writes them.")
    finished = translated(locale, "The run has finished: no more lines will come.")
    assert page.locator("#log-mode").inner_text() == following
    assert page.locator("#resumed-from a").inner_text() == "run-001"
    resumed.transition(RunStatus.RUNNING, RunStatus.COMPLETED, completed_at=timezone.now())
    add_log(resumed, ("INFO", "Training finished"))
    page.locator("#log-mode", has_text=finished).wait_for()
    page.locator(".log-message", has_text="Training finished").wait_for()
    assert fits_the_screen(page)
    if width < 800:  # the sections on one row, not three
        assert page.locator(".mainnav").evaluate("node => node.getBoundingClientRect().height") < 50
    screenshot(page, f"run-finished-{name}")

    page.locator("#resumed-from a").click()
    page.locator("#continued-by a", has_text="run-002").wait_for()
    artifacts = page.locator("#artifacts")
    assert str(checkpoint) in artifacts.inner_text()
    with page.expect_download() as download:
        artifacts.locator("a[download]").first.click()
    assert download.value.suggested_filename == "config.yaml"
    artifacts.locator("a", has_text=translated(locale, "Files")).first.click()
    page.locator("#artifact-files a", has_text="adapter_model.safetensors").wait_for()
    assert fits_the_screen(page)
    screenshot(page, f"checkpoint-files-{name}")
