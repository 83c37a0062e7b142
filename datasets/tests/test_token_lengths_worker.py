"""A file above TOKEN_LENGTHS_INLINE_BYTES is measured by a real `manage.py qcluster` worker, as in production.

The request answers 202 at once; the worker streams the file, records how far it got (every
PROGRESS_EVERY_BYTES), and stores the counts that the per-field figures and histograms are read from.
"""

from __future__ import annotations

import json

import pytest
from django_q.conf import Conf

from datasets.tests.conftest import upload
from datasets.validation import PROGRESS_EVERY_BYTES
from llmplatform.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# By the tiny word tokenizer: prompt 2 + 3 tokens and response 2; prompt 4 and response 8.
SHORT = {"instruction": "say hi", "input": "to the user", "output": "hi there"}
LONG = {"instruction": "how are you there", "output": "one two three four five six seven eight"}


def test_a_worker_measures_a_big_file_with_progress_and_keeps_its_histogram(
    owner_client, make_dataset, word_tokenizer_model, qcluster, settings, monkeypatch
):
    monkeypatch.setattr(Conf, "SYNC", False)  # the tests' own setting: tasks go to the qcluster, as in production
    pair = (json.dumps(SHORT) + "\n" + json.dumps(LONG) + "\n").encode()
    content = pair * (2 * PROGRESS_EVERY_BYTES // len(pair) + 1)  # one progress step shown before the end
    assert len(content) > settings.TOKEN_LENGTHS_INLINE_BYTES
    dataset = make_dataset()
    uploaded = upload(owner_client, dataset.pk, "pairs.jsonl", content).json()
    file_url = f"/v1/datasets/{dataset.pk}/files/{uploaded['upload_id']}"
    wait_for(
        lambda: owner_client.get(f"/v1/datasets/{dataset.pk}").json()["files"][0]["status"] == "ready",
        timeout=180,
        what="the worker to validate the file",
    )

    started = owner_client.post(f"{file_url}/token-lengths", {"model": word_tokenizer_model}, format="json")

    assert started.status_code == 202, started.content
    assert (started.json()["status"], started.json()["progress"]) == ("measuring", 0.0)
    seen: list[float] = []

    def measured() -> dict | None:
        [lengths] = owner_client.get(f"{file_url}/token-lengths").json()
        seen.append(lengths["progress"])
        return lengths if lengths["status"] != "measuring" else None

    done = wait_for(measured, timeout=180, interval=0.02, what="the worker to measure the file")
    assert done["status"] == "ready", done
    assert any(0.0 < value < 1.0 for value in seen), f"no progress shown while it measured: {sorted(set(seen))}"
    assert seen == sorted(seen), "progress only goes forward"
    pairs = len(content) // len(pair)
    assert (done["records"], done["progress"]) == (2 * pairs, 1.0)
    total = next(field for field in done["by_field"] if field["field"] == "total")
    assert (total["count"], total["min"], total["max"]) == (2 * pairs, 7, 12)
    assert total["histogram"] == [{"low": 4, "high": 7, "count": pairs}, {"low": 8, "high": 15, "count": pairs}]
