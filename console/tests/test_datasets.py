"""Dataset pages: list, create, files with validation, the report with line numbers, record preview."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from datasets import services
from datasets.models import Dataset, DatasetFile
from deid import services as deid_services
from deid.models import DeidJob

pytestmark = pytest.mark.django_db

GOOD = {"messages": [{"role": "user", "content": "指令"}, {"role": "assistant", "content": "回答"}]}


@pytest.fixture
def dataset(owner) -> Dataset:
    return services.create_dataset(name="qwen-sft", task_type="sft", description="demo", created_by=owner)


def add_file(dataset, tmp_path, lines: list[str], name: str = "train.jsonl"):
    source = tmp_path / name
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return services.add_file_from_path(dataset=dataset, source_path=source, filename=name, created_by=None)


def test_it_creates_a_dataset_through_the_service(owner_session):
    response = owner_session.post(reverse("console:dataset-create"), {"name": "d1", "task_type": "sft"})
    dataset = Dataset.objects.get(name="d1")
    assert response["Location"] == reverse("console:dataset-detail", args=[dataset.pk])
    assert dataset.created_by is not None
    assert dataset.created_by.username == "alice"


def test_it_refuses_an_unknown_task_type(owner_session):
    response = owner_session.post(reverse("console:dataset-create"), {"name": "d1", "task_type": "magic"})
    assert response.status_code == 400
    assert not Dataset.objects.exists()


def test_it_lists_and_filters_datasets(member_session, dataset, owner, project):
    services.create_dataset(name="corpus", task_type="pretrain", created_by=owner, project=project)
    page = member_session.get(reverse("console:dataset-list"), {"task_type": "pretrain"}).content.decode()
    assert ">corpus</a>" in page and ">qwen-sft</a>" not in page


def test_it_lists_and_shows_a_dataset_only_to_whom_it_is_shared_with(
    owner_session, member_session, outsider_session, staff_session, dataset, tmp_path, project
):
    shared = services.create_dataset(name="team-set", task_type="sft", created_by=dataset.created_by, project=project)
    file = add_file(dataset, tmp_path, [json.dumps(GOOD)])
    pages = [
        reverse("console:dataset-detail", args=[dataset.pk]),
        reverse("console:dataset-files", args=[dataset.pk]),
        reverse("console:dataset-file", args=[dataset.pk, file.pk]),
        reverse("console:dataset-deid-jobs", args=[dataset.pk]),
    ]

    listed = member_session.get(reverse("console:dataset-list")).content.decode()
    assert ">team-set</a>" in listed and ">qwen-sft</a>" not in listed
    assert ">qwen-sft</a>" in staff_session.get(reverse("console:dataset-list")).content.decode()
    assert "qwen-sft" not in outsider_session.get(reverse("console:dataset-list")).content.decode()
    for session in (member_session, outsider_session):
        assert [session.get(page).status_code for page in pages] == [404, 404, 404, 404]
    assert [staff_session.get(page).status_code for page in pages] == [200, 200, 200, 200]
    assert "qwen-finetune" in member_session.get(reverse("console:dataset-detail", args=[shared.pk])).content.decode()


def test_it_offers_the_users_projects_to_share_a_new_dataset_with(owner_session, outsider_session, project):
    assert project.name in owner_session.get(reverse("console:dataset-create")).content.decode()
    assert project.name not in outsider_session.get(reverse("console:dataset-create")).content.decode()

    refused = outsider_session.post(
        reverse("console:dataset-create"), {"name": "d1", "task_type": "sft", "project": project.pk}
    )
    owner_session.post(reverse("console:dataset-create"), {"name": "d2", "task_type": "sft", "project": project.pk})

    assert refused.status_code == 400 and not Dataset.objects.filter(name="d1").exists()
    assert Dataset.objects.get(name="d2").project == project


def test_it_shows_files_with_their_validation_and_the_path_projects_use(owner_session, dataset, tmp_path):
    ready = add_file(dataset, tmp_path, [json.dumps(GOOD, ensure_ascii=False)] * 3)
    page = owner_session.get(reverse("console:dataset-detail", args=[dataset.pk])).content.decode()
    assert "badge-ready" in page
    assert ready.relative_path in page
    assert 'id="upload"' in page  # the creator may upload


def test_it_hides_the_upload_and_de_identification_from_those_who_may_not_change_the_dataset(
    member_session, dataset, project
):
    Dataset.objects.filter(pk=dataset.pk).update(project=project)
    page = member_session.get(reverse("console:dataset-detail", args=[dataset.pk])).content.decode()
    assert "qwen-sft" in page
    assert 'id="upload"' not in page and reverse("console:dataset-deidentify", args=[dataset.pk]) not in page


def test_it_reports_errors_with_line_field_and_reason(owner_session, dataset, tmp_path):
    bad = add_file(dataset, tmp_path, [json.dumps(GOOD), "{not json", json.dumps({"messages": []})])
    response = owner_session.get(reverse("console:dataset-file", args=[dataset.pk, bad.pk]))
    page = response.content.decode()
    assert "badge-invalid" in page
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    lines = [row.split('class="num">')[1].split(">")[1].split("<")[0] for row in rows]
    assert lines[0] == "2" and set(lines) == {"2", "3"}
    assert "messages" in page  # the field


def test_it_previews_records_a_page_at_a_time(owner_session, dataset, tmp_path):
    lines = [
        json.dumps({"messages": [GOOD["messages"][0], {"role": "assistant", "content": f"答{n}"}]}) for n in range(25)
    ]
    good = add_file(dataset, tmp_path, lines)
    url = reverse("console:dataset-file", args=[dataset.pk, good.pk])
    first = owner_session.get(url).content.decode()
    assert "答0" in first and "答19" in first and "答20" not in first
    second = owner_session.get(url, {"offset": 20}).content.decode()
    assert "答20" in second and "答24" in second and "答19" not in second


def test_it_refreshes_the_files_panel_while_a_file_validates(owner_session, dataset, tmp_path, settings):
    settings.VALIDATE_INLINE_BYTES = 0  # validation goes to a worker; none runs here
    add_file(dataset, tmp_path, [json.dumps(GOOD)])
    panel = owner_session.get(reverse("console:dataset-files", args=[dataset.pk])).content.decode()
    assert "badge-validating" in panel and "every 2s" in panel


def test_it_scrubs_a_dataset_into_a_new_one_and_shows_the_job(owner_session, dataset, tmp_path):
    record = {
        "messages": [{"role": "user", "content": "我的手机号是13812345678"}, {"role": "assistant", "content": "好的"}]
    }
    add_file(dataset, tmp_path, [json.dumps(record, ensure_ascii=False)])
    response = owner_session.post(
        reverse("console:dataset-deidentify", args=[dataset.pk]), {"policy": "default", "seed": 3, "name": ""}
    )
    assert response.status_code == 302
    job = DeidJob.objects.get(source=dataset)
    assert (
        'hx-trigger="every 2s"'
        in owner_session.get(reverse("console:dataset-deid-jobs", args=[dataset.pk])).content.decode()
    )
    deid_services.run_deid_job(job_id=str(job.pk))  # what the django-q2 worker runs
    panel = owner_session.get(reverse("console:dataset-deid-jobs", args=[dataset.pk])).content.decode()
    assert "badge-succeeded" in panel and "PHONE_NUMBER × 1" in panel and "hx-trigger" not in panel
    copy = Dataset.objects.get(name="qwen-sft-deid")
    assert copy.parent == dataset
    assert reverse("console:dataset-detail", args=[copy.pk]) in panel


def test_it_lets_only_the_owner_de_identify_and_keeps_the_raw_source_from_the_team(
    owner_session, member_session, outsider_session, dataset, tmp_path, project
):
    Dataset.objects.filter(pk=dataset.pk).update(project=project)
    add_file(dataset, tmp_path, [json.dumps(GOOD)])
    url = reverse("console:dataset-deidentify", args=[dataset.pk])

    assert outsider_session.post(url, {"policy": "default", "name": ""}).status_code == 404
    assert member_session.post(url, {"policy": "default", "name": ""}).status_code == 403
    assert not DeidJob.objects.exists()
    assert owner_session.post(url, {"policy": "default", "name": ""}).status_code == 302
    deid_services.run_deid_job(job_id=str(DeidJob.objects.get().pk))

    copy = Dataset.objects.get(name="qwen-sft-deid")
    assert member_session.get(reverse("console:dataset-detail", args=[dataset.pk])).status_code == 404
    copy_page = member_session.get(reverse("console:dataset-detail", args=[copy.pk])).content.decode()
    assert "qwen-finetune" in copy_page
    assert reverse("console:dataset-detail", args=[dataset.pk]) not in copy_page  # no link to the raw source
    assert (
        "raw personal data" in owner_session.get(reverse("console:dataset-detail", args=[dataset.pk])).content.decode()
    )


def test_it_explains_that_an_empty_dataset_has_nothing_to_scrub(owner_session, dataset):
    response = owner_session.post(
        reverse("console:dataset-deidentify", args=[dataset.pk]), {"policy": "default", "seed": 0}, follow=True
    )
    assert "has no stored file" in response.content.decode()
    assert not DeidJob.objects.exists()


def test_it_shows_how_far_an_upload_has_arrived_and_been_checked(owner_session, dataset, owner):
    upload = services.start_resumable_upload(dataset=dataset, filename="big.jsonl", total_bytes=4096, created_by=owner)
    DatasetFile.objects.filter(pk=upload.pk).update(received_bytes=3072, validated_bytes=2048)

    panel = owner_session.get(reverse("console:dataset-files", args=[dataset.pk])).content.decode()

    assert "3.0\xa0KB / 4.0\xa0KB · 2.0\xa0KB checked" in panel


def test_it_says_there_are_no_datasets_yet_and_how_to_make_one_when_nothing_is_filtered(owner_session):
    page = owner_session.get(reverse("console:dataset-list")).content.decode()
    assert "There are no datasets yet." in page and "No dataset matches." not in page
    assert f'href="{reverse("console:dataset-create")}">Create a dataset</a>' in page


def test_it_says_no_dataset_matches_a_filter_that_finds_none(owner_session, dataset):
    page = owner_session.get(reverse("console:dataset-list"), {"q": "nothing-like-it"}).content.decode()
    assert "No dataset matches." in page and "There are no datasets yet." not in page


def test_it_counts_valid_records_and_lines_with_errors_apart(owner_session, dataset, tmp_path):
    lines = [json.dumps(GOOD), "{not json", json.dumps({"messages": []}), json.dumps(GOOD)]
    bad = add_file(dataset, tmp_path, lines)
    page = owner_session.get(reverse("console:dataset-file", args=[dataset.pk, bad.pk])).content.decode()
    counts = page.split('id="record-counts"')[1].split("</dl>")[0]
    assert "<dt>Valid records</dt><dd>2</dd>" in counts
    assert "<dt>Lines with errors</dt><dd>2</dd>" in counts


def test_it_previews_a_bad_line_as_written_with_its_number_and_reason(owner_session, dataset, tmp_path):
    bad = add_file(dataset, tmp_path, [json.dumps(GOOD), '{"messages": [oops]}', json.dumps({"messages": []})])
    page = owner_session.get(reverse("console:dataset-file", args=[dataset.pk, bad.pk])).content.decode()
    broken = page.split('id="line-2"')[1].split('id="line-3"')[0]
    assert "{&quot;messages&quot;: [oops]}" in broken
    assert "not valid JSON: Expecting value at column 15" in broken
    assert "Expecting value: line 1" not in page  # the parser's own wording
    empty = page.split('id="line-3"')[1].split("</div>\n      </div>")[0]
    assert "messages" in empty and "record-invalid" in page.split('id="line-3"')[0].rsplit("<div", 1)[1]


def test_it_shows_statistics_as_a_table_and_bars_not_json(owner_session, dataset, tmp_path):
    good = add_file(dataset, tmp_path, [json.dumps(GOOD)] * 3)
    page = owner_session.get(reverse("console:dataset-file", args=[dataset.pk, good.pk])).content.decode()
    statistics = page.split('id="statistics"')[1].split("</section>")[0]
    assert '<th scope="row">Turns per conversation</th><td class="num">3</td>' in statistics
    assert '<th scope="row">Characters per message (assistant)</th>' in statistics
    assert "<figcaption>Messages by role</figcaption>" in statistics
    assert 'class="bar-name mono">user</span><span class="bar"><span style="width:100.0%">' in statistics
    assert "{" not in statistics  # no JSON


def test_it_offers_the_dataset_files_and_configs_the_user_sees_to_a_project(
    owner_session, outsider_session, dataset, tmp_path
):
    add_file(dataset, tmp_path, [json.dumps(GOOD)])
    stored = DatasetFile.objects.get(dataset=dataset)
    page = owner_session.get(reverse("console:project-create")).content.decode()
    picker = page.split('<datalist id="dataset-files">')[1].split("</datalist>")[0]
    assert f'<option value="{stored.relative_path}" label="qwen-sft / train.jsonl">' in picker
    assert 'list="dataset-files"' in page and 'list="training-configs"' in page
    assert stored.relative_path not in outsider_session.get(reverse("console:project-create")).content.decode()
