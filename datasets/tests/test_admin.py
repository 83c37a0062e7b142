"""The admin: operators find datasets, files and configs, and deleting removes the bytes too."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from datasets import services
from datasets.models import DatasetFile
from datasets.tests.conftest import SFT_RECORD, jsonl, stored_files, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(staff) -> Client:
    staff.is_superuser = True
    staff.save()
    browser = Client()
    browser.force_login(staff)
    return browser


def test_it_shows_every_page(admin_browser, owner_client, make_dataset):
    dataset = make_dataset()
    upload_id = upload(owner_client, dataset.pk, "train.jsonl", jsonl(SFT_RECORD)).json()["upload_id"]
    for url in [
        "/admin/datasets/dataset/",
        f"/admin/datasets/dataset/{dataset.pk}/change/",
        "/admin/datasets/datasetfile/?q=train",
        f"/admin/datasets/datasetfile/{upload_id}/change/",
        "/admin/datasets/trainconfig/",
    ]:
        assert admin_browser.get(url).status_code == 200, url


def test_it_shows_the_pieces_of_an_upload_checked_while_it_arrives(admin_browser, owner, make_dataset):
    content = jsonl(*[SFT_RECORD] * 3)
    upload = services.start_resumable_upload(
        dataset=make_dataset(), filename="big.jsonl", total_bytes=len(content) * 2, created_by=owner
    )
    services.append_chunk(dataset_file=upload, offset=0, length=len(content), stream=io.BytesIO(content))
    services.validate_received_bytes(upload_id=upload.pk)

    page = " ".join(admin_browser.get(f"/admin/datasets/datasetfile/{upload.pk}/change/").content.decode().split())

    assert "Validated pieces" in page
    assert f'<td class="field-end"> <p>{len(content)}</p> </td>' in page
    assert '<td class="field-records"> <p>3</p> </td>' in page


def test_it_removes_the_stored_file_when_an_operator_deletes_it(
    admin_browser, owner_client, make_dataset, training_dir
):
    dataset = make_dataset()
    upload_id = upload(owner_client, dataset.pk, "train.jsonl", jsonl(SFT_RECORD)).json()["upload_id"]

    response = admin_browser.post(f"/admin/datasets/datasetfile/{upload_id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not DatasetFile.objects.exists()
    assert stored_files(training_dir) == []
