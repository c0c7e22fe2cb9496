"""The console through a real browser (Debian's chromium, driven by Playwright): sign in at a
real OIDC provider, see a delivery posted to `assist serve` and its jobs, open the failed job,
retry it as an operator, be refused as a viewer. Screenshots of each page are kept in
test-artifacts/console/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from rq import Queue
from rq.registry import FailedJobRegistry

from tests.console.conftest import ARTIFACTS, NOBODY, OPERATOR, VIEWER, post_pull_request
from tests.support.processes import run_worker_burst

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (scripts/services installs it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


def sign_in(browser: Browser, console: str, who: str, target: str = "/deliveries") -> Page:
    context: BrowserContext = browser.new_context()
    page = context.new_page()
    page.goto(console + target)
    # Not signed in: the console sends the browser to the identity provider's form.
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.get_by_role("button", name=who, exact=True).click()
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_operator_and_viewer_in_the_browser(
    browser: Browser,
    console: str,
    webhook_server: str,
    console_env: dict[str, str],
    corpora: Path,
    redis_url: str,
) -> None:
    answer = post_pull_request(webhook_server, corpora, 8101, "8" * 40)
    job_id = answer["jobs"][0]
    # No forge credentials are configured: the review fails, for real, on a real worker.
    run_worker_burst(console_env, "review")
    rq_queue = Queue("console-review", connection=redis.Redis.from_url(redis_url))
    assert job_id in FailedJobRegistry(queue=rq_queue)

    page = sign_in(browser, console, OPERATOR)
    expect(page).to_have_url(re.compile(r"/deliveries$"))
    expect(page.get_by_text("Olivia Operator")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="pull_request").first
    expect(row).to_contain_text("queued")
    shot(page, "deliveries")

    # The filters narrow the list; an unknown repository shows nothing.
    page.get_by_label("Repository").fill("nobody/nothing")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No delivery matches.")).to_be_visible()
    page.get_by_role("link", name="Clear").click()

    row.get_by_role("link", name=job_id[:22]).click()
    expect(page.get_by_role("heading", name=re.compile("Job"))).to_contain_text(job_id)
    expect(page.locator("pre.error")).to_contain_text("no GitHub credentials")
    shot(page, "job-failed")

    page.goto(console + "/jobs?status=failed")
    expect(page.get_by_role("link", name=job_id[:22])).to_be_visible()
    shot(page, "jobs")
    page.get_by_role("link", name=re.compile(r"#8101")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("#8101")
    expect(page.locator("ol.timeline")).to_contain_text("delivery")
    expect(page.locator("ol.timeline")).to_contain_text("failed")
    shot(page, "change")
    for name in ("repositories", "costs", "health"):
        page.get_by_role("navigation").get_by_role("link", name=name.capitalize()).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(name.capitalize())
        shot(page, name)
    expect(page.locator("svg[role=img]")).to_have_count(0)  # health has no chart
    page.goto(console + "/costs")
    expect(page.locator("svg[role=img]")).to_be_visible()

    # A forged form post (no or a wrong CSRF token) is refused, and requeues nothing.
    forged = page.request.post(
        f"{console}/jobs/{job_id}/retry", form={"csrf": "not-the-token"}, max_redirects=0
    )
    assert forged.status == 403
    assert "CSRF" in forged.text()
    assert job_id in FailedJobRegistry(queue=rq_queue)

    # The viewer sees the failed job but has no retry, and a post is refused.
    viewer = sign_in(browser, console, VIEWER, f"/jobs/{job_id}")
    expect(viewer.get_by_text("Victor Viewer")).to_be_visible()
    expect(viewer.locator("pre.error")).to_contain_text("no GitHub credentials")
    expect(viewer.get_by_role("button", name="Retry")).to_have_count(0)
    token = viewer.locator("form[action='/logout'] input[name=csrf]").get_attribute("value")
    refused = viewer.request.post(
        f"{console}/jobs/{job_id}/retry", form={"csrf": token or ""}, max_redirects=0
    )
    assert refused.status == 403
    assert "Only operators" in refused.text()
    assert job_id in FailedJobRegistry(queue=rq_queue)
    shot(viewer, "job-viewer")

    # The operator retries it: requeued, as `assist jobs retry` does.
    page.goto(console + f"/jobs/{job_id}")
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("retry: requeued")
    shot(page, "job-retried")
    assert job_id not in FailedJobRegistry(queue=rq_queue)
    assert job_id in rq_queue.get_job_ids()
    rq_queue.remove(job_id)

    # Signing out ends the session: the next page asks for sign-in again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(console + "/jobs")
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()


def test_account_without_a_console_role_is_refused(browser: Browser, console: str) -> None:
    page = sign_in(browser, console, NOBODY)
    expect(page.get_by_role("alert")).to_contain_text("no console role")
    page.goto(console + "/deliveries")
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
