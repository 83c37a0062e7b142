"""Console fixtures: a browser, and a run with some history in the root conftest's project."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from conftest import session_client
from console.tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason

# The deployments app's stand-in vLLM server and its settings, for the deployment pages.
from deployments.tests.conftest import fake_vllm, port_range_base, tiny_model  # noqa: F401
from runs.models import Artifact, ArtifactTag, ArtifactType, LogLine, MetricPoint, Run, RunStatus


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator:
    reason = chromium_missing_reason()
    if reason:
        print(f"skipping browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def close_browser_pages(request) -> Iterator[None]:
    """Each browser test's pages are closed after it: a page left open keeps polling the live server
    and keeps a renderer busy for the rest of the session."""
    yield
    if "chromium_browser" in request.fixturenames:
        for context in request.getfixturevalue("chromium_browser").contexts:
            context.close()


def add_log(run: Run, *messages: tuple[str, str], start=None) -> None:
    start = start or timezone.now()
    first = run.log_lines.count() + 1
    LogLine.objects.bulk_create(
        LogLine(run=run, seq=first + i, timestamp=start + timedelta(seconds=i), level=level, message=message)
        for i, (level, message) in enumerate(messages)
    )
    Run.objects.filter(pk=run.pk).update(next_log_seq=first + len(messages))
    run.next_log_seq = first + len(messages)


@pytest.fixture
def admin(staff) -> Client:
    """An operator who may see every page of the admin."""
    staff.is_superuser = True
    staff.save()
    return session_client(staff)


@pytest.fixture
def run(project, owner) -> Run:
    run = Run.objects.create(
        project=project,
        name="run-001",
        status=RunStatus.RUNNING,
        created_by=owner,
        started_at=timezone.now(),
        progress=0.4,
        eta_seconds=3723,
        current_step=40,
        total_steps=100,
        metrics={"loss": 1.234567, "eval_loss": 1.5},
        start_command="bash run_train_full_sft.sh configs/qwen_demo.yaml",
        hyperparameters={"learning_rate": 3e-5},
        model="llama-2-13b",
        dataset="datasets/qwen_demo.jsonl",
        training_yaml_name="configs/qwen_demo.yaml",
    )
    add_log(run, ("INFO", "training started"), ("WARNING", "dataset differs"), ("ERROR", "CUDA hiccup"))
    MetricPoint.objects.bulk_create(
        [MetricPoint(run=run, name="loss", step=step, value=2.0 - step / 100) for step in (10, 20, 30, 40)]
        + [MetricPoint(run=run, name="eval_loss", step=40, value=1.5)]
    )
    checkpoint = Artifact.objects.create(
        run=run,
        name="checkpoint-40",
        type=ArtifactType.CHECKPOINT,
        path="/tmp/x/checkpoint-40",
        size_bytes=2048,
        step=40,
    )
    ArtifactTag.objects.create(artifact=checkpoint, value="candidate", notes="BLEU 32.5", applied_by=owner)
    return run
