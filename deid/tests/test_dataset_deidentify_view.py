"""POST/GET /v1/datasets/{id}/deidentify and GET /v1/deid-jobs/{id}: a real job, real files."""

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from audit.models import AuditEvent
from datasets import services as dataset_services
from datasets.models import Dataset, FileStatus
from deid.models import DeidJob, DeidJobStatus


def start(client, dataset, captured, **body):
    with captured(execute=True):
        return client.post(f"/v1/datasets/{dataset.pk}/deidentify", body, format="json")


def test_it_writes_a_scrubbed_validated_copy_into_a_new_derived_dataset(
    owner_client, owner, source_dataset, django_capture_on_commit_callbacks
):
    originals = {f.name: f.absolute_path.read_bytes() for f in source_dataset.files.all()}
    response = start(owner_client, source_dataset, django_capture_on_commit_callbacks, policy_id="default", seed=7)
    assert response.status_code == 202, response.json()
    job = DeidJob.objects.get(pk=response.json()["id"])
    assert job.status == DeidJobStatus.SUCCEEDED, job.detail

    body = owner_client.get(f"/v1/deid-jobs/{job.pk}").json()
    assert body["status"] == "succeeded" and body["progress"] == 1.0
    assert body["counts"] == {"PHONE_NUMBER": 8, "ID_CARD": 4} and body["lines"] == 4
    assert body["policy_version"] == "2024-01-01" and body["error_count"] == 0

    target = Dataset.objects.get(pk=body["target_dataset_id"])
    assert target.parent == source_dataset and target.name == "chats-deid" and target.created_by == owner
    assert target.metadata["deidentified"]["policy_id"] == "default" and target.metadata["language"] == "zh"
    assert "13912345678" not in target.metadata["contact"]  # metadata is scrubbed too
    files = {f.name: f for f in target.files.all()}
    assert set(files) == {"train.jsonl", "eval.jsonl"}
    assert all(f.status == FileStatus.READY for f in files.values())  # validated like any upload
    scrubbed = files["train.jsonl"].absolute_path.read_text(encoding="utf-8")
    assert "13812345678" not in scrubbed and "11010519491231002X" not in scrubbed
    first = json.loads(scrubbed.splitlines()[0])
    pseudo_phone = first["messages"][0]["content"][len("我的手机号") :][:11]
    assert pseudo_phone in first["messages"][1]["content"]  # one person, one pseudonym
    # The source is never modified.
    assert {f.name: f.absolute_path.read_bytes() for f in source_dataset.files.all()} == originals


def test_it_names_the_copy_of_a_dataset_with_the_longest_name_within_the_limit(
    owner_client, source_dataset, django_capture_on_commit_callbacks
):
    Dataset.objects.filter(pk=source_dataset.pk).update(name="长" * 200)  # as long as a dataset name may be

    response = start(owner_client, source_dataset, django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.json()
    target = Dataset.objects.get(
        pk=owner_client.get(f"/v1/deid-jobs/{response.json()['id']}").json()["target_dataset_id"]
    )
    assert target.name == "长" * 195 + "-deid"


def test_it_lists_a_datasets_jobs(owner_client, source_dataset, django_capture_on_commit_callbacks):
    start(owner_client, source_dataset, django_capture_on_commit_callbacks, name="copy-1")
    jobs = owner_client.get(f"/v1/datasets/{source_dataset.pk}/deidentify").json()
    assert [job["target_name"] for job in jobs] == ["copy-1"]


def test_it_keeps_the_raw_source_and_the_job_from_the_team_and_gives_it_the_copy(
    owner_client,
    member_client,
    outsider_client,
    staff_client,
    source_dataset,
    project,
    django_capture_on_commit_callbacks,
):
    Dataset.objects.filter(pk=source_dataset.pk).update(project=project)
    assert member_client.get(f"/v1/datasets/{source_dataset.pk}").status_code == 200  # shared, not yet known raw

    assert start(outsider_client, source_dataset, django_capture_on_commit_callbacks).status_code == 404
    assert start(member_client, source_dataset, django_capture_on_commit_callbacks).status_code == 403
    job = start(owner_client, source_dataset, django_capture_on_commit_callbacks).json()

    copy = owner_client.get(f"/v1/deid-jobs/{job['id']}").json()["target_dataset_id"]
    assert member_client.get(f"/v1/datasets/{copy}").json()["project_id"] == str(project.pk)
    assert [d["id"] for d in member_client.get("/v1/datasets").json()] == [copy]
    for client in (member_client, outsider_client):
        assert client.get(f"/v1/datasets/{source_dataset.pk}").status_code == 404
        assert client.get(f"/v1/datasets/{source_dataset.pk}/deidentify").status_code == 404
        assert client.get(f"/v1/deid-jobs/{job['id']}").status_code == 404
    assert owner_client.get(f"/v1/datasets/{source_dataset.pk}").json()["personal_data"] is True
    assert staff_client.get(f"/v1/deid-jobs/{job['id']}").json()["status"] == "succeeded"


def test_it_shows_a_jobs_seed_only_to_holders_of_the_mapping_permission(
    owner, owner_client, staff_client, source_dataset, django_capture_on_commit_callbacks
):
    job = start(owner_client, source_dataset, django_capture_on_commit_callbacks, seed=7).json()
    urls = [f"/v1/deid-jobs/{job['id']}", f"/v1/datasets/{source_dataset.pk}/deidentify"]

    assert "seed" not in job
    assert "seed" not in owner_client.get(urls[0]).json() and "seed" not in owner_client.get(urls[1]).json()[0]
    assert "seed" not in staff_client.get(urls[0]).json()  # staff see the job, not its secret
    owner.user_permissions.add(Permission.objects.get(codename="view_pii_mapping"))
    assert owner_client.get(urls[0]).json()["seed"] == 7
    assert owner_client.get(urls[1]).json()[0]["seed"] == 7


def test_it_draws_a_secret_seed_when_none_is_given(owner_client, source_dataset, django_capture_on_commit_callbacks):
    first = start(owner_client, source_dataset, django_capture_on_commit_callbacks).json()["id"]
    second = start(owner_client, source_dataset, django_capture_on_commit_callbacks).json()["id"]

    seeds = {job.seed for job in DeidJob.objects.filter(pk__in=[first, second])}
    assert len(seeds) == 2 and 0 not in seeds


def test_it_reports_invalid_utf8_lines_and_still_finishes(
    owner, owner_client, tmp_path, django_capture_on_commit_callbacks
):
    dataset = dataset_services.create_dataset(name="raw", task_type="pretrain", created_by=owner)
    path = tmp_path / "corpus.txt"
    path.write_bytes("第一行 13812345678\n".encode() + b"\xff\xfe broken\n")
    dataset_services.add_file_from_path(dataset=dataset, source_path=path, filename="corpus.txt", created_by=owner)
    job_id = start(owner_client, dataset, django_capture_on_commit_callbacks).json()["id"]
    body = owner_client.get(f"/v1/deid-jobs/{job_id}").json()
    assert body["status"] == "succeeded"
    assert body["errors"] == [
        {"file": "corpus.txt", "line": 2, "reason": "invalid UTF-8 at byte 0; undecodable bytes became U+FFFD"}
    ]


def test_it_audits_jobs_without_personal_data(owner_client, source_dataset, django_capture_on_commit_callbacks):
    job_id = start(owner_client, source_dataset, django_capture_on_commit_callbacks).json()["id"]
    events = AuditEvent.objects.filter(object_id=job_id)
    assert {e.verb for e in events} == {"create", "finish"}
    assert "13812345678" not in json.dumps([e.changes for e in events], ensure_ascii=False)


def test_it_fails_the_job_with_a_reason_when_a_source_file_is_gone(
    owner_client, source_dataset, django_capture_on_commit_callbacks
):
    Path(source_dataset.files.first().absolute_path).unlink()
    job_id = start(owner_client, source_dataset, django_capture_on_commit_callbacks).json()["id"]
    body = owner_client.get(f"/v1/deid-jobs/{job_id}").json()
    assert body["status"] == "failed" and "FileNotFoundError" in body["detail"]
    assert body["target_dataset_id"] is None and not Dataset.objects.filter(parent=source_dataset).exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [({"policy_id": "nope"}, 404), ({"seed": "x"}, 400), ({"seed": 1.5}, 400)],
)
def test_it_rejects_bad_requests(owner_client, source_dataset, body, status):
    assert owner_client.post(f"/v1/datasets/{source_dataset.pk}/deidentify", body, format="json").status_code == status


def test_it_answers_404_for_unknown_datasets_and_jobs_and_409_for_empty_ones(owner, owner_client):
    missing = "00000000-0000-0000-0000-000000000000"
    assert owner_client.post(f"/v1/datasets/{missing}/deidentify", {}, format="json").status_code == 404
    assert owner_client.get(f"/v1/deid-jobs/{missing}").status_code == 404
    empty = dataset_services.create_dataset(name="empty", task_type="sft", created_by=owner)
    response = owner_client.post(f"/v1/datasets/{empty.pk}/deidentify", {}, format="json")
    assert response.status_code == 409 and "no stored file" in response.json()["detail"]


def test_it_lists_jobs_in_a_fixed_number_of_queries(
    owner_client, source_dataset, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    for index in range(3):
        start(owner_client, source_dataset, django_capture_on_commit_callbacks, name=f"copy-{index}")
    with django_assert_max_num_queries(6):  # 2 of them ask whether the caller may see the seeds
        assert len(owner_client.get(f"/v1/datasets/{source_dataset.pk}/deidentify").json()) == 3
