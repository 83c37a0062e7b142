"""Operators work in the Django admin: every registered model's pages render."""

from __future__ import annotations

from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from conftest import session_client
from gpus.models import GpuClaim
from llmplatform.testing import admin_form_data, platform_models
from runs.models import Run

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_it_gives_every_platform_model_an_admin_page_or_an_inline():
    inlined = {inline.model for model_admin in admin.site._registry.values() for inline in model_admin.inlines}
    without = [
        model._meta.label
        for model in platform_models()
        if model not in inlined
        and (model not in admin.site._registry or tuple(admin.site._registry[model].list_display) == ("__str__",))
    ]
    assert platform_models()
    assert without == []


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[model._meta.label for model, _ in REGISTERED])
def test_it_renders_the_changelist_with_search_of_every_registered_model(admin_client, model, model_admin):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    query = {"q": "x"} if model_admin.search_fields else {}
    assert admin_client.get(url, query).status_code == 200


def test_it_lists_gpu_claims_for_operators_without_letting_them_invent_one(admin_client, db):
    GpuClaim.objects.create(gpu_index=3, holder_kind="deployment", holder_id="d-1", holder_label="qwen-v1")
    changelist = admin_client.get("/admin/gpus/gpuclaim/", {"q": "qwen"})
    assert "qwen-v1" in changelist.content.decode()
    assert admin_client.get("/admin/gpus/gpuclaim/add/").status_code == 403


def test_it_sends_anonymous_people_to_the_admin_login_page(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.get("/admin/login/").status_code == 200


def admin_login(client, password: str):
    return client.post(reverse("admin:login"), {"username": "operator", "password": password, "next": "/admin/"})


def test_it_locks_a_username_out_of_the_admin_login_after_too_many_wrong_passwords(client, staff, settings):
    failures = [admin_login(client, "wrong").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]

    right = admin_login(client, "pw-operator")

    assert failures[-1] == right.status_code == 429
    assert right["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    page = right.content.decode()
    assert "Too many failed logins" in page and "Try again in 15 minutes." in page
    assert client.get(reverse("admin:index")).status_code == 302


def test_it_lets_staff_see_and_lift_a_lockout(client, admin_client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        admin_login(client, "wrong")
    attempt = AccessAttempt.objects.get()

    listed = admin_client.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    lifted = admin_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})

    assert "operator" in listed
    assert lifted.status_code == 302
    assert admin_login(client, "pw-operator")["Location"] == "/admin/"


def test_it_gives_an_operator_made_by_create_api_token_the_pages_operators_need(db):
    call_command("create_api_token", "night-operator", "--staff", "--password", "pw-night", stdout=StringIO())
    operator = session_client(User.objects.get(username="night-operator"))

    index = operator.get("/admin/")

    assert index.status_code == 200
    assert "You don’t have permission" not in index.content.decode()
    statuses = {path: operator.get(path).status_code for path in OPERATOR_PAGES + SUPERUSER_PAGES}
    assert statuses == {**dict.fromkeys(OPERATOR_PAGES, 200), **dict.fromkeys(SUPERUSER_PAGES, 403)}


OPERATOR_PAGES = [
    "/admin/projects/project/",
    "/admin/runs/run/",
    "/admin/datasets/dataset/",
    "/admin/deployments/deployment/",
    "/admin/deployments/deployment/add/",
    "/admin/audit/auditevent/",
    "/admin/axes/accessattempt/",
    "/admin/gpus/gpuclaim/",
]
# Users, their permissions and their API tokens (with which one acts as anybody).
SUPERUSER_PAGES = ["/admin/auth/user/", "/admin/auth/group/", "/admin/authtoken/tokenproxy/"]


def test_it_lets_nobody_add_a_run_or_set_its_status_by_hand(admin_client, project, owner):
    run = Run.objects.create(project=project, created_by=owner, name="by-the-platform", progress=0.375)
    change = reverse("admin:runs_run_change", args=[run.pk])
    page = admin_client.get(change)

    posted = admin_client.post(change, {**admin_form_data(page), "name": "renamed", "status": "completed"})

    assert admin_client.get(reverse("admin:runs_run_add")).status_code == 403
    assert "status" not in page.context["adminform"].form.fields
    assert "38%" in admin_client.get(reverse("admin:runs_run_changelist")).content.decode()
    assert posted.status_code == 302
    run.refresh_from_db()
    assert (run.name, run.status) == ("renamed", "queued")
