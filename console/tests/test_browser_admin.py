"""The admin as an operator made by `create_api_token --staff` sees it, in a real Chromium, in English and
Chinese, on a wide screen and a phone: runs listed with their progress as a percentage, no way to add a run
or to set its status by hand; screenshots under artifacts/screenshots/."""

from __future__ import annotations

import importlib
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from console.tests.browser import new_page, screenshot
from llmplatform.users import OPERATORS_GROUP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (Accept-Language, width): the two languages, each on a wide screen and a phone.
VIEWS = [("en-US", 1440), ("zh-CN", 390), ("en-US", 390), ("zh-CN", 1440)]


def view_name(locale: str, width: int) -> str:
    return f"{'zh' if locale.startswith('zh') else 'en'}-{width}"


@pytest.fixture
def operators_group() -> Group:
    """The operators group with the migration's permissions: a transactional test's flush empties the tables
    after the first such test, and Django makes the permissions again but not the group."""
    migration = importlib.import_module("llmplatform.migrations.0002_operators_group")
    group, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
    for app_label, model, actions in migration.OPERATOR_PERMISSIONS:
        codenames = [f"{action}_{model}" for action in actions]
        group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
    return group


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_shows_an_operator_the_runs_without_adding_one_or_setting_its_status(
    chromium_browser, live_server, run, operators_group, locale, width
):
    call_command("create_api_token", "night-operator", "--staff", "--password", "pw-night", stdout=StringIO())
    name = view_name(locale, width)
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    page.goto("/admin/login/")
    page.locator("#id_username").fill("night-operator")
    page.locator("#id_password").fill("pw-night")
    page.locator("#id_password").press("Enter")
    page.wait_for_url("**/admin/")
    assert page.locator("#content-main a[href='/admin/runs/run/']").first.is_visible()
    screenshot(page, f"admin-index-{name}")

    page.goto("/admin/runs/run/")
    row = page.locator("#result_list tbody tr", has_text="run-001")
    assert "40%" in row.inner_text()  # progress 0.4, as a percentage
    assert page.locator("a[href='/admin/runs/run/add/']").count() == 0  # runs come from launches, not from the admin
    screenshot(page, f"admin-runs-{name}")

    row.locator("th a").first.click()
    page.locator("#id_name").wait_for()
    assert page.locator("[name=status]").count() == 0  # the supervisor moves a run through its states
    screenshot(page, f"admin-run-{name}")
