"""Operators work in the Django admin: every registered model's pages render."""

from __future__ import annotations

from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.urls import reverse

from gpus.models import GpuClaim

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def platform_models() -> list:
    """The models of this repository's own apps (top-level folders; not Django's or libraries',
    even when a virtual environment lies inside the repository)."""
    base = Path(settings.BASE_DIR)
    return [
        model for config in apps.get_app_configs() if Path(config.path).parent == base for model in config.get_models()
    ]


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
