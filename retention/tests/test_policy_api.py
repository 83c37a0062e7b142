"""`/projects/{ref}/retention-policy`: the project's creator and staff set it, its team reads it, outsiders get 404."""

from __future__ import annotations

from audit.models import AuditEvent
from retention.models import RetentionPolicy

URL = "/projects/qwen-finetune/retention-policy"
POLICY = {"keep_last": 2, "keep_best": 1, "best_metric": "eval/loss", "best_is": "min"}


def test_the_creator_sets_changes_and_removes_the_policy(owner_client, member_client, project):
    assert owner_client.get(URL).status_code == 404  # none yet: every checkpoint is kept
    created = owner_client.put(URL, POLICY, format="json")
    assert created.status_code == 200, created.json()
    assert created.json() | POLICY == created.json()
    assert member_client.get(URL).json()["keep_last"] == 2

    assert owner_client.put(URL, {**POLICY, "keep_last": 5}, format="json").json()["keep_last"] == 5
    assert RetentionPolicy.objects.get(project=project).keep_last == 5
    assert owner_client.delete(URL).status_code == 204
    assert not RetentionPolicy.objects.exists()
    assert list(
        AuditEvent.objects.filter(object_type="retention.retentionpolicy").values_list("action", flat=True)
    ) == [
        "delete",
        "update",
        "create",
    ]


def test_members_may_not_change_it_and_outsiders_do_not_see_it(member_client, outsider_client, project):
    assert member_client.put(URL, POLICY, format="json").status_code == 403
    assert outsider_client.put(URL, POLICY, format="json").status_code == 404
    assert outsider_client.get(URL).status_code == 404
    assert outsider_client.delete(URL).status_code == 404
    assert not RetentionPolicy.objects.exists()


def test_it_refuses_best_k_without_a_metric(owner_client, project):
    response = owner_client.put(URL, {"keep_last": 1, "keep_best": 2}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "best_metric"
