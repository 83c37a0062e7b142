"""The dataset upload in a real Chromium: chunks through the resumable upload API, and a broken
connection in the middle resumes from the offset the server reports, without losing a byte."""

from __future__ import annotations

import hashlib
import json

import pytest

from console.tests.browser import log_in, new_page
from datasets import services
from datasets.models import DatasetFile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RECORD = json.dumps(
    {"messages": [{"role": "user", "content": "你好" * 50}, {"role": "assistant", "content": "hi" * 50}]}
)


def test_it_resumes_an_upload_after_a_dropped_chunk(chromium_browser, live_server, owner, settings, tmp_path):
    settings.VALIDATE_INLINE_BYTES = 64 * 1024 * 1024  # validate in the request: no worker runs here
    dataset = services.create_dataset(name="big", task_type="sft", created_by=owner)
    data = tmp_path / "big.jsonl"
    with open(data, "w", encoding="utf-8") as file:
        while file.tell() < 9 * 1024 * 1024:  # two chunks of the page's 8 MiB
            file.write(RECORD + "\n")
    page = new_page(chromium_browser, live_server)
    log_in(page, "alice", "pw-alice")
    dropped: list[str] = []

    def drop_the_second_chunk_once(route):
        if "offset=0" not in route.request.url and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/v1/uploads/*?offset=*", drop_the_second_chunk_once)
    page.goto(f"/console/datasets/{dataset.pk}/")
    page.locator("#upload-file").set_input_files(str(data))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.locator("#dataset-files td .badge-ready").wait_for()
    assert dropped, "the second chunk was never sent"
    stored = DatasetFile.objects.get(dataset=dataset)
    assert stored.bytes == data.stat().st_size
    assert stored.sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
