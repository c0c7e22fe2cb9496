"""`assist connect gitlab` against the GitLab side of the test forge: the hook is created with
our token and the right events, a second run changes nothing, a new token updates it, and a
token without the role or the scope gets a clear refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ops.connect import ConnectError, connect_gitlab
from tests.forge.conftest import GITLAB_BOT, GITLAB_TOKEN, REPO
from tests.testforge import TestForge

HOOK_TOKEN = "hook-token-0123456789abcdef0123"


@pytest.fixture
def gitlab(testforge: TestForge) -> TestForge:
    testforge.create_repo(REPO, files={"README.md": "# w\n"})
    testforge.add_user(GITLAB_BOT, token=GITLAB_TOKEN)
    testforge.set_permission(REPO, GITLAB_BOT, "maintain")
    return testforge


def connect(forge: TestForge, tmp_path: Path, *, token: str = GITLAB_TOKEN, hook: str = HOOK_TOKEN):  # type: ignore[no-untyped-def]
    return connect_gitlab(
        gitlab_url=forge.gitlab_url,
        api_token=token,
        webhook_token=hook,
        project=REPO,
        public_url="https://assist.example.com/",
        state_file=tmp_path / "connect.json",
        timeout_s=10,
    )


def test_creates_the_hook_then_changes_nothing(gitlab: TestForge, tmp_path: Path) -> None:
    first = connect(gitlab, tmp_path)
    assert first.action == "created"
    (hook,) = gitlab.repo(REPO).hooks
    assert hook["url"] == "https://assist.example.com/webhooks/gitlab"
    assert hook["token"] == HOOK_TOKEN
    assert (hook["merge_requests_events"], hook["note_events"], hook["push_events"]) == (
        True, True, True,
    )  # fmt: skip
    assert hook["issues_events"] is False
    assert hook["enable_ssl_verification"] is True
    report = first.report(REPO)
    assert "created the webhook" in report
    assert f"hooks/{hook['id']}" in report  # how to undo it
    assert HOOK_TOKEN not in report
    before = [dict(h) for h in gitlab.repo(REPO).hooks]
    writes = len([r for r in gitlab.requests_log() if r.get("method") in ("POST", "PUT")])

    again = connect(gitlab, tmp_path)
    assert again.action == "unchanged"
    assert "changed nothing" in again.report(REPO)
    assert [dict(h) for h in gitlab.repo(REPO).hooks] == before
    assert len([r for r in gitlab.requests_log() if r.get("method") in ("POST", "PUT")]) == writes

    rotated = connect(gitlab, tmp_path, hook="rotated-hook-token-9876543210")
    assert rotated.action == "updated"
    (hook,) = gitlab.repo(REPO).hooks
    assert hook["token"] == "rotated-hook-token-9876543210"


def test_a_developer_token_is_refused_with_the_role_it_needs(
    gitlab: TestForge, tmp_path: Path
) -> None:
    dev = gitlab.add_user("dev", token="glpat-developer-token")
    gitlab.set_permission(REPO, "dev", "write")
    with pytest.raises(ConnectError, match="Maintainer role"):
        connect(gitlab, tmp_path, token=dev)
    assert gitlab.repo(REPO).hooks == []


def test_a_read_only_token_is_refused_with_the_scope_it_needs(
    gitlab: TestForge, tmp_path: Path
) -> None:
    reader = gitlab.add_user("reader", token="glpat-reader-token", read_only=True)
    with pytest.raises(ConnectError, match="needs the api scope"):
        connect(gitlab, tmp_path, token=reader)
    with pytest.raises(ConnectError, match="refused ASSIST_GITLAB_TOKEN"):
        connect(gitlab, tmp_path, token="glpat-nobody")
