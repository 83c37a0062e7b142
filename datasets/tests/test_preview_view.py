"""GET /v1/datasets/{id}/files/{upload_id}/preview and the file report."""

from __future__ import annotations

import pytest

from datasets.tests.conftest import SFT_RECORD, jsonl, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploaded(owner_client, make_dataset, project):
    """A file of a dataset shared with `project`: its member reads it."""
    dataset = make_dataset(project=project)
    records = [{**SFT_RECORD, "conversation_id": f"c-{n}"} for n in range(30)]
    upload_id = upload(owner_client, dataset.pk, "train.jsonl", jsonl(*records)).json()["upload_id"]
    return dataset, upload_id


def test_it_returns_parsed_records_a_page_at_a_time(member_client, uploaded):
    dataset, upload_id = uploaded

    page = member_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}/preview?offset=25&limit=3").json()

    assert [item["line"] for item in page["items"]] == [26, 27, 28]
    assert page["items"][0]["record"]["conversation_id"] == "c-25"
    assert page["next_offset"] == 28
    last = member_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}/preview?offset=28&limit=3").json()
    assert [item["line"] for item in last["items"]] == [29, 30]
    assert last["next_offset"] is None


def test_it_defaults_to_the_first_twenty(member_client, uploaded):
    dataset, upload_id = uploaded

    page = member_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}/preview").json()

    assert (page["offset"], page["limit"], len(page["items"])) == (0, 20, 20)


@pytest.mark.parametrize("query", ["offset=-1", "limit=0", "limit=201", "offset=abc"])
def test_it_refuses_out_of_range_paging(member_client, uploaded, query):
    dataset, upload_id = uploaded

    response = member_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}/preview?{query}")

    assert response.status_code == 400


def test_it_answers_404_for_an_upload_id_from_another_dataset(owner_client, make_dataset, uploaded):
    _, upload_id = uploaded
    other = make_dataset(name="other")

    assert owner_client.get(f"/v1/datasets/{other.pk}/files/{upload_id}/preview").status_code == 404
    assert owner_client.get(f"/v1/datasets/{other.pk}/files/{upload_id}").status_code == 404


def test_it_shows_the_validation_report_of_a_file(owner_client, uploaded):
    dataset, upload_id = uploaded

    report = owner_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}").json()

    assert report["status"] == "ready"
    assert report["records"] == 30
    assert report["errors"] == []
    assert report["stats"]["roles"] == {"user": 30, "assistant": 30}
    assert report["validation_progress"] == 1.0


def test_it_hides_a_file_and_its_records_from_outsiders(outsider_client, staff_client, uploaded):
    dataset, upload_id = uploaded

    assert outsider_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}").status_code == 404
    assert outsider_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}/preview").status_code == 404
    assert staff_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}/preview").json()["items"]
