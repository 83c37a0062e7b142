"""`/v1/datasets/{id}/files/{upload_id}/token-lengths`: measure a file's token lengths, and read them."""

from __future__ import annotations

import pytest

from datasets.tests.conftest import jsonl, upload

pytestmark = pytest.mark.django_db

SHORT = {"instruction": "say hi", "input": "to the user", "output": "hi there"}
LONG = {"instruction": "how are you there", "output": "one two three four five six seven eight"}


@pytest.fixture
def uploaded(owner_client, make_dataset, project):
    """A ready file of `owner`'s dataset, shared with the project `member` is in."""
    dataset = make_dataset(project=project)
    response = upload(owner_client, dataset.pk, "pairs.jsonl", jsonl(SHORT, LONG, SHORT))
    assert response.status_code == 201, response.content
    return f"/v1/datasets/{dataset.pk}/files/{response.json()['upload_id']}/token-lengths"


def test_it_measures_a_small_file_at_once_with_the_model_s_tokenizer(owner_client, uploaded, word_tokenizer_model):
    response = owner_client.post(uploaded, {"model": word_tokenizer_model}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["model"], body["status"], body["progress"], body["records"]) == (word_tokenizer_model, "ready", 1.0, 3)
    total = next(field for field in body["by_field"] if field["field"] == "total")
    assert {key: total[key] for key in ("count", "min", "max", "p50", "p99")} == {
        "count": 3,
        "min": 7,
        "max": 12,
        "p50": 7,
        "p99": 12,
    }
    assert total["histogram"] == [{"low": 4, "high": 7, "count": 2}, {"low": 8, "high": 15, "count": 1}]
    assert {field["field"] for field in body["by_field"]} == {"prompt", "response", "total"}


def test_a_team_member_reads_the_measurements(owner_client, member_client, uploaded, word_tokenizer_model):
    measured = owner_client.post(uploaded, {"model": word_tokenizer_model}, format="json").json()

    listed = member_client.get(uploaded)

    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()] == [measured["id"]]


def test_a_big_file_is_answered_202_while_a_worker_measures_it(
    owner_client, uploaded, word_tokenizer_model, settings, django_capture_on_commit_callbacks
):
    settings.TOKEN_LENGTHS_INLINE_BYTES = 0

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(uploaded, {"model": word_tokenizer_model}, format="json")

    assert response.status_code == 202, response.content
    assert (response.json()["status"], response.json()["progress"]) == ("measuring", 0.0)
    assert owner_client.get(uploaded).json()[0]["status"] == "ready"


def test_a_model_folder_without_a_tokenizer_is_a_400(owner_client, uploaded):
    response = owner_client.post(uploaded, {"model": "Qwen/Qwen2.5-7B"}, format="json")

    assert response.status_code == 400
    assert "No tokenizer.json" in response.json()["detail"]
    assert owner_client.get(uploaded).json() == []


def test_an_outsider_gets_404(outsider_client, uploaded, word_tokenizer_model):
    assert outsider_client.get(uploaded).status_code == 404
    assert outsider_client.post(uploaded, {"model": word_tokenizer_model}, format="json").status_code == 404
