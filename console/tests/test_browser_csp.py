"""The Content-Security-Policy (llmplatform.csp) breaks nothing a person uses: the console's pages with their
charts, polling and forms, the admin and Swagger UI work in Chromium, and the browser reports no violation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from console.tests.browser import log_in, new_page
from deid import services as deid_services
from deid.engine import PolicyConfig
from deid.models import DEFAULT_POLICY_NAME, DeidPolicy
from llmplatform.testing import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def watched_page(chromium_browser, live_server) -> Iterator[tuple]:
    """A page, and the policy violations its browser reports; closed after the test, so it polls no more."""
    page = new_page(chromium_browser, live_server)
    page.add_init_script(REPORT_VIOLATIONS)
    violations: list[str] = []

    def keep_violation(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", keep_violation)
    yield page, violations
    page.context.close()


def test_it_lets_the_console_work_without_a_violation(watched_page, run):
    page, violations = watched_page
    log_in(page, "alice", "pw-alice")
    page.goto(f"/console/projects/{run.project_id}/runs/{run.pk}/")
    page.locator(".chart canvas").first.wait_for()  # uPlot's charts
    with page.expect_response(lambda response: response.url.endswith("/status")):  # htmx polls the status panel
        pass
    page.goto("/console/deid/")
    page.locator("#id_text").fill("客户手机号 13812345678")
    page.get_by_role("button", name="De-identify").click()  # an htmx form
    page.locator("#deid-output mark").wait_for()

    assert violations == []


COUNT_PAUSED_POLLS = """
window.pausedPolls = 0;
document.addEventListener("htmx:beforeRequest", (event) => { if (event.defaultPrevented) window.pausedPolls++; });
"""


def test_it_pauses_a_panels_polling_while_its_disclosure_is_open(watched_page, run):
    page, violations = watched_page
    log_in(page, "alice", "pw-alice")
    page.goto(f"/console/projects/{run.project_id}/runs/{run.pk}/")
    page.evaluate(COUNT_PAUSED_POLLS)
    page.locator("summary", has_text="Cancel run").click()

    # A poll came due and was skipped (asked from here: the policy forbids Playwright's in-page polling, eval).
    wait_for(lambda: page.evaluate("window.pausedPolls") >= 1, what="a skipped poll")

    assert page.get_by_role("button", name="Yes, cancel this run").is_visible()
    assert violations == []


def test_it_lets_the_admin_and_swagger_ui_work_without_a_violation(watched_page, admin_user, run):
    page, violations = watched_page
    page.goto("/admin/login/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill("password")
    page.locator("#id_password").press("Enter")
    page.goto(f"/admin/projects/project/{run.project_id}/change/")
    page.locator("#project_form").wait_for()
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()  # Swagger UI read the schema and drew the operations

    assert violations == []


@pytest.fixture(autouse=True)
def default_policy(db) -> None:
    """The migration's default policy, which transactional tests flush."""
    if not DeidPolicy.objects.filter(name=DEFAULT_POLICY_NAME).exists():
        deid_services.create_policy(name=DEFAULT_POLICY_NAME, config=PolicyConfig.default(), actor=None)
