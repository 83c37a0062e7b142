"""GET and PATCH /projects/{project_reference}."""

from __future__ import annotations

from runs.models import Run


def test_it_finds_a_project_by_id_or_by_name(owner_client, project):
    by_id = owner_client.get(f"/projects/{project.pk}")
    by_name = owner_client.get(f"/projects/{project.name}")

    assert by_id.status_code == by_name.status_code == 200
    assert by_id.json() == by_name.json()


def test_it_hides_a_project_from_outsiders_and_shows_it_to_members_and_staff(
    project, outsider_client, member_client, staff_client
):
    assert outsider_client.get(f"/projects/{project.name}").status_code == 404
    assert member_client.get(f"/projects/{project.name}").status_code == 200
    assert staff_client.get(f"/projects/{project.name}").status_code == 200


def test_it_answers_404_for_an_unknown_project(owner_client):
    response = owner_client.get("/projects/no-such-project")
    assert response.status_code == 404
    assert "no-such-project" in response.json()["detail"]


def test_it_shows_runs_and_versions_in_few_queries(owner_client, project, django_assert_max_num_queries):
    for index in range(5):
        Run.objects.create(project=project, name=f"r{index}")

    with django_assert_max_num_queries(8):
        response = owner_client.get(f"/projects/{project.name}")

    body = response.json()
    assert len(body["runs"]) == 5
    assert set(body["runs"][0]) == {"id", "name", "status", "progress", "started_at"}
    assert body["versions"][0]["version"] == 1


def test_it_adds_a_version_for_each_change(owner_client, project):
    response = owner_client.patch(
        f"/projects/{project.name}", {"description": "new words", "tags": ["demo"]}, format="json"
    )
    assert response.status_code == 200, response.content
    response = owner_client.patch(f"/projects/{project.pk}", {"status": "archived"}, format="json")

    versions = response.json()["versions"]
    assert [version["version"] for version in versions] == [1, 2, 3]
    assert versions[1]["changes"] == {
        "description": ["Fine-tune Qwen on support chats", "new words"],
        "tags": [["demo", "候选"], ["demo"]],
    }
    assert versions[2]["changes"] == {"status": ["active", "archived"]}
    assert versions[2]["changed_by"] == "alice"


def test_it_adds_no_version_when_nothing_changes(owner_client, project):
    response = owner_client.patch(f"/projects/{project.name}", {"task_type": "sft"}, format="json")

    assert [version["version"] for version in response.json()["versions"]] == [1]


def test_it_refuses_a_rename_onto_another_project_with_409(owner_client, owner, project):
    owner_client.post("/projects", {"name": "other"}, format="json")

    response = owner_client.patch(f"/projects/{project.name}", {"name": "other"}, format="json")

    assert response.status_code == 409
    assert owner_client.get(f"/projects/{project.pk}").json()["name"] == "qwen-finetune"


def test_it_lets_only_the_creator_and_staff_change_a_project(project, member_client, outsider_client, staff_client):
    assert member_client.patch(f"/projects/{project.name}", {"description": "x"}, format="json").status_code == 403
    assert outsider_client.patch(f"/projects/{project.name}", {"description": "x"}, format="json").status_code == 404
    assert staff_client.patch(f"/projects/{project.name}", {"description": "x"}, format="json").status_code == 200


def test_it_refuses_bad_paths_on_patch(owner_client, project):
    response = owner_client.patch(f"/projects/{project.name}", {"dataset_name": "../../x"}, format="json")

    assert response.status_code == 400
    assert owner_client.get(f"/projects/{project.name}").json()["dataset_name"] == "datasets/qwen_demo.jsonl"


def test_it_lets_only_staff_set_executor_options_and_gpu_caps(owner_client, staff_client, project):
    options = {"executor_options": {"command": "sh -c 'anything'"}}
    assert owner_client.patch(f"/projects/{project.name}", options, format="json").status_code == 403
    assert owner_client.patch(f"/projects/{project.name}", {"max_concurrent_gpus": 2}, format="json").status_code == 403
    assert owner_client.patch(f"/projects/{project.name}", {"executor": "slurm"}, format="json").status_code == 200

    response = staff_client.patch(f"/projects/{project.name}", {**options, "max_concurrent_gpus": 2}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["executor"], body["executor_options"], body["max_concurrent_gpus"]) == (
        "slurm",
        options["executor_options"],
        2,
    )
    assert body["versions"][-1]["changes"]["max_concurrent_gpus"] == [None, 2]
    assert owner_client.patch(f"/projects/{project.name}", {"executor": "kubernetes"}, format="json").status_code == 400


def test_it_refuses_a_gpu_cap_beyond_any_cluster_naming_the_field(staff_client, project):
    response = staff_client.patch(
        f"/projects/{project.name}", {"max_concurrent_gpus": 5_992_462_942_540}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"]["max_concurrent_gpus"] == ["Ensure this value is less than or equal to 100000."]
    project.refresh_from_db()
    assert project.max_concurrent_gpus is None


def test_it_lets_only_staff_set_a_priority_ceiling(owner_client, member_client, staff_client, project):
    assert owner_client.patch(f"/projects/{project.name}", {"max_priority": 1000}, format="json").status_code == 403
    assert member_client.patch(f"/projects/{project.name}", {"max_priority": 1000}, format="json").status_code == 403
    assert owner_client.post("/projects", {"name": "mine", "max_priority": 1000}, format="json").status_code == 403
    assert staff_client.patch(f"/projects/{project.name}", {"max_priority": 1001}, format="json").status_code == 400

    response = staff_client.patch(f"/projects/{project.name}", {"max_priority": 50}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["max_priority"] == 50
    assert body["versions"][-1]["changes"]["max_priority"] == [None, 50]
    assert owner_client.get(f"/projects/{project.name}").json()["max_priority"] == 50
