from __future__ import annotations

import pytest
from django.urls import reverse

from projects.models import Project, ProjectVersion
from runs.models import Run

pytestmark = pytest.mark.django_db
LIST = reverse("console:project-list")


def detail_url(project: Project) -> str:
    return reverse("console:project-detail", args=[project.pk])


def test_it_lists_the_projects_a_member_can_see(member_session, project, outsider):
    Project.objects.create(name="someone-elses", created_by=outsider)
    page = member_session.get(LIST).content.decode()
    assert "qwen-finetune" in page
    assert "someone-elses" not in page


def test_it_shows_staff_every_project(staff_session, project, outsider):
    Project.objects.create(name="someone-elses", created_by=outsider)
    page = staff_session.get(LIST).content.decode()
    assert "qwen-finetune" in page and "someone-elses" in page


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"q": "support"}, {"qwen-finetune"}),
        ({"q": "SUPPORT"}, {"qwen-finetune"}),
        ({"owner": "carol"}, {"llama-pretrain"}),
        ({"status": "archived"}, {"llama-pretrain"}),
        ({"tag": "demo"}, {"qwen-finetune"}),
        ({"tag": "dem"}, set()),
        ({}, {"qwen-finetune", "llama-pretrain"}),
    ],
)
def test_it_filters_by_text_owner_status_and_tag(owner_session, owner, project, query, shown):
    Project.objects.create(name="llama-pretrain", owner="carol", status="archived", tags=["big"], created_by=owner)
    page = owner_session.get(LIST, query).content.decode()
    assert {name for name in ("qwen-finetune", "llama-pretrain") if f">{name}</a>" in page} == shown


def test_it_pages_long_lists(owner_session, owner):
    Project.objects.bulk_create(Project(name=f"p{number:03d}", created_by=owner) for number in range(30))
    first = owner_session.get(LIST).content.decode()
    second = owner_session.get(LIST, {"page": 2}).content.decode()
    assert first.count("/console/projects/") - second.count("/console/projects/") > 0
    assert "Page 2 of 2" in second


def test_it_gives_outsiders_404_for_a_project_they_cannot_see(outsider_session, project):
    assert outsider_session.get(detail_url(project)).status_code == 404


def test_it_shows_runs_and_configuration_versions(member_session, project, run):
    ProjectVersion.objects.create(
        project=project, version=2, changed_by="alice", changes={"base_model": ["llama-2-7b", "llama-2-13b"]}
    )
    page = member_session.get(detail_url(project)).content.decode()
    assert "run-001" in page
    assert "llama-2-7b" in page and "v2" in page
    assert 'name="runs"' in page  # runs can be picked for comparison
    assert 'placeholder="datasets/qwen_demo.jsonl"' in page  # what an empty field falls back to


def test_it_needs_few_queries_however_many_runs(owner_session, project, django_assert_max_num_queries):
    Run.objects.bulk_create(Run(project=project, name=f"r{number}") for number in range(30))
    for number in range(5):
        ProjectVersion.objects.create(project=project, version=number + 2, changes={"owner": ["a", "b"]})
    with django_assert_max_num_queries(6):
        assert owner_session.get(detail_url(project)).status_code == 200


def test_it_shows_configuration_changes_as_field_before_and_after(member_session, project):
    ProjectVersion.objects.filter(project=project).delete()
    ProjectVersion.objects.create(
        project=project, version=1, changes={"tags": ["demo", "zh"], "default_hyperparameters": {"lr": 3e-5}}
    )
    ProjectVersion.objects.create(
        project=project,
        version=2,
        changes={"tags": [["demo", "zh"], ["demo"]], "default_hyperparameters": [{"lr": 3e-5}, {"lr": 1e-5, "bs": 8}]},
    )
    page = member_session.get(detail_url(project)).content.decode()
    created = page.split('id="version-1"')[1].split("</details>")[0]
    tags = created.split('title="tags">Tags</th>')[1].split("</tr>")[0]
    # Two tags given at creation are one list after an empty "before", not a before/after pair.
    assert tags == '<td><span class="muted">—</span></td><td><ul class="change-list"><li>demo</li><li>zh</li></ul></td>'
    changed = page.split('id="version-2"')[1].split("</details>")[0]
    hyperparameters = changed.split('title="default_hyperparameters">Default hyperparameters</th>')[1].split("</tr>")[0]
    assert "<pre>{\n  &quot;bs&quot;: 8,\n  &quot;lr&quot;: 1e-05\n}</pre>" in hyperparameters
    assert "{&#x27;" not in page  # no Python dict
