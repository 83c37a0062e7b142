"""The whole console in a real Chromium, as a team member uses it on a first day.

Log in, create a dataset and upload a file (chunked upload API) and read its
validation report, upload a training YAML, create a project naming both, launch a
run of the stand-in trainer (runs/tests/fixtures/fake_trainer.py: it writes what
Hugging Face / LLaMA-Factory trainers write; no GPU here), watch log lines and a
loss point arrive without reloading, cancel it, and switch the console to 中文.
A real supervisor loop (runs.supervisor) runs in a thread beside the live server.
"""

from __future__ import annotations

import json
import re
import threading

import pytest
import yaml

from console.tests.browser import log_in, new_page, screenshot
from llmplatform import supervision
from llmplatform.processes import terminate_group
from runs.models import Run, RunStatus
from runs.tests.fixtures import fake_trainer_command

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECORD = {
    "messages": [{"role": "user", "content": "把这句话翻译成英文"}, {"role": "assistant", "content": "Translate this"}]
}
TRAINER_CONFIG = {
    "task_type": "sft",
    "model_name": "tiny-llama",
    "max_seq_length": 512,
    "per_device_train_batch_size": 2,
    "learning_rate": 2.0e-5,
    "num_train_epochs": 1,
    # The stand-in trainer's own keys: slow enough to watch, long enough to cancel.
    "max_steps": 3000,
    "logging_steps": 2,
    "eval_steps": 6,
    "save_steps": 10,
    "step_seconds": 0.05,
}


@pytest.fixture
def supervisor_thread(settings):
    settings.TRAINING_COMMAND = fake_trainer_command()
    settings.CANCEL_GRACE_SECONDS = 5.0
    loop = supervision.Loop("runs")
    thread = threading.Thread(target=loop.run, name="test-supervisor", daemon=True)
    thread.start()
    yield loop
    loop.stop()
    thread.join(timeout=30)
    for state in Run.objects.exclude(executor_state={}).values_list("executor_state", flat=True):
        if "pgid" in state:
            terminate_group(int(state["pgid"]), grace=0.0)


def test_it_takes_a_new_user_from_login_to_a_cancelled_run(
    chromium_browser, live_server, owner, supervisor_thread, tmp_path
):
    page = new_page(chromium_browser, live_server)
    log_in(page, "alice", "pw-alice")

    # A dataset, and a file with one bad line: the report names the line.
    page.get_by_role("link", name="Datasets", exact=True).click()
    page.get_by_role("link", name="New dataset").click()
    page.get_by_label("Name").fill("qwen-demo")
    page.get_by_label("Task type").select_option("sft")
    page.get_by_role("button", name="Create dataset").click()
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(RECORD, ensure_ascii=False) + "\n{broken\n" + json.dumps(RECORD) + "\n")
    page.locator("#upload-file").set_input_files(str(data))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.locator("#dataset-files td .badge-invalid").wait_for()
    assert page.locator("#dataset-status").inner_text() == "Invalid"  # the whole dataset, refreshed too
    dataset_path = page.locator("#dataset-files td.mono").first.inner_text()
    assert page.locator("#upload-progress").get_attribute("aria-valuenow") == "100"
    screenshot(page, "dataset-detail")
    page.get_by_role("link", name="train.jsonl").click()
    assert page.locator("#errors tbody td.num").first.inner_text() == "2"
    screenshot(page, "dataset-validation-report")

    # A training YAML, then a project naming both files.
    config = tmp_path / "sft.yaml"
    config.write_text(yaml.safe_dump({**TRAINER_CONFIG, "dataset": dataset_path}))
    page.get_by_role("link", name="Configs", exact=True).click()
    page.locator("#config-file").set_input_files(str(config))
    page.get_by_role("button", name="Upload", exact=True).click()
    config_path = page.locator("dd.mono").first.inner_text()
    assert config_path.startswith("configs/")

    page.get_by_role("link", name="Projects", exact=True).click()
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name", exact=True).fill("qwen-summaries")
    page.get_by_label("Dataset").fill(dataset_path)
    page.get_by_label("Training YAML").fill(config_path)
    page.get_by_label("Tags").fill("demo, zh")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="New run").wait_for()

    # Launch: the run page fills in by itself.
    page.get_by_role("button", name="Launch run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]+/$"))
    page.evaluate("window.loadedOnce = true")
    page.locator("#run-status .badge-running").wait_for()
    page.locator(".log-message", has_text="loss").first.wait_for()
    page.locator(".chart[data-metric='loss'] canvas").wait_for()
    page.locator("#artifacts", has_text="checkpoint-").wait_for()
    assert page.evaluate("window.loadedOnce") is True  # no reload: htmx and fetch did it
    screenshot(page, "run-detail-live")

    # Cancel, after confirming.
    page.get_by_text("Cancel run").click()
    page.get_by_role("button", name="Yes, cancel this run").click()
    page.locator("#run-status .badge-cancelled").wait_for()
    run = Run.objects.get()
    assert run.status == RunStatus.CANCELLED
    assert run.artifacts.filter(type="checkpoint").exists()

    # The same page in Chinese.
    page.locator("#language-select").select_option("zh-hans")
    page.locator(".language-switcher button").click()
    page.locator("#run-status .badge-cancelled", has_text="已取消").wait_for()
    assert page.get_by_role("heading", name="日志").is_visible()
    screenshot(page, "run-detail-cancelled-zh")

    page.goto("/console/")
    screenshot(page, "journey-dashboard-zh")
    page.goto("/console/projects/")
    screenshot(page, "journey-projects-zh")
