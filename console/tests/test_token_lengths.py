"""Token lengths in the console: a file's chart, measuring from its page, a launch's length warning, the settings."""

from __future__ import annotations

import json

import pytest
import yaml
from django.urls import reverse

from datasets import services
from projects.models import Project

pytestmark = pytest.mark.django_db

SHORT = {"instruction": "say hi", "input": "to the user", "output": "hi there"}  # 7 tokens
LONG = {"instruction": "how are you there", "output": "one two three four five six seven eight"}  # 12 tokens


@pytest.fixture
def pairs(owner, project, tmp_path):
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in (SHORT, LONG, SHORT)))
    dataset = services.create_dataset(name="pairs", task_type="sft", created_by=owner, project=project)
    return services.add_file_from_path(dataset=dataset, source_path=source, filename="pairs.jsonl", created_by=owner)


def file_page(pairs) -> str:
    return reverse("console:dataset-file", args=[pairs.dataset_id, pairs.pk])


def measure_url(pairs) -> str:
    return reverse("console:dataset-file-token-lengths", args=[pairs.dataset_id, pairs.pk])


def test_a_file_page_measures_and_charts_the_token_lengths(member_session, pairs, word_tokenizer_model):
    before = member_session.get(file_page(pairs)).content.decode()
    assert "Not measured yet" in before

    response = member_session.post(measure_url(pairs), {"model": word_tokenizer_model})

    assert response["Location"] == file_page(pairs) + "#token-lengths"
    page = member_session.get(file_page(pairs)).content.decode()
    chart = page[page.index('id="token-lengths"') :]
    assert word_tokenizer_model in chart
    assert "Tokens per record · median 7, 90% 12, 99% 12, longest 12" in chart
    assert '<span class="bar-name mono">4–7</span>' in chart and '<span class="bar-name mono">8–15</span>' in chart


def test_a_model_folder_without_a_tokenizer_is_said_on_the_page(member_session, pairs):
    response = member_session.post(measure_url(pairs), {"model": "Qwen/Qwen2.5-7B"}, follow=True)

    assert "No tokenizer.json in a model folder" in response.content.decode()


def test_the_panel_refreshes_itself_only_while_a_worker_measures(member_session, pairs, word_tokenizer_model, settings):
    settings.TOKEN_LENGTHS_INLINE_BYTES = 0
    member_session.post(measure_url(pairs), {"model": word_tokenizer_model})

    panel = member_session.get(measure_url(pairs)).content.decode()

    assert 'hx-trigger="every 2s"' in panel and 'role="progressbar"' in panel


def test_an_outsider_gets_404(outsider_session, pairs, word_tokenizer_model):
    assert outsider_session.get(measure_url(pairs)).status_code == 404
    assert outsider_session.post(measure_url(pairs), {"model": word_tokenizer_model}).status_code == 404


def test_a_launch_from_the_console_shows_its_length_warning(
    member_session, project, pairs, word_tokenizer_model, training_dir
):
    config = {"stage": "sft", "finetuning_type": "lora", "model_name_or_path": word_tokenizer_model, "cutoff_len": 10}
    (training_dir / project.training_yaml_name).write_text(yaml.safe_dump(config))
    Project.objects.filter(pk=project.pk).update(trainer="llamafactory-0.9.x")

    response = member_session.post(
        reverse("console:run-create", args=[project.pk]),
        {"dataset": pairs.relative_path, "hyperparameters": "{}", "gpu_count": 0, "priority": 0},
        follow=True,
    )

    page = response.content.decode()
    assert "1 of 3 records" in page and "cutoff_len 10" in page


def test_the_project_form_sets_the_length_check(owner_session, project):
    url = reverse("console:project-edit", args=[project.pk])
    form = owner_session.get(url).content.decode()
    assert 'name="max_truncated_share"' in form and 'name="refuse_truncation"' in form
    fields = {"name": project.name, "status": "active", "max_truncated_share": "0.05", "refuse_truncation": "on"}

    assert owner_session.post(url, {**fields, "max_truncated_share": "2"}).status_code == 400
    assert owner_session.post(url, fields).status_code == 302

    project.refresh_from_db()
    assert (project.max_truncated_share, project.refuse_truncation) == (0.05, True)
