"""GitHub App authentication: one installation token per job, refreshed on 401 and before
expiry; token mode; configuration errors."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.forge import CommitStatus, RepoRef, StatusState
from bot.forge.auth import StaticToken
from bot.forge.errors import AuthenticationFailed, PermissionDenied
from bot.forge.factory import ForgeNotConfigured, build_forge, github_app_tokens
from bot.settings import Settings
from tests.forge.conftest import APP_ID, BOT, REPO, Env, token_forge
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey


@pytest.fixture
def github(github_env: Env) -> Env:
    return github_env


def test_many_operations_in_one_job_make_one_token_request(github: Env) -> None:
    forge, repo, number = github.forge, github.repo, github.number
    change = forge.get_change(repo, number)
    forge.get_diff(repo, number)
    forge.read_file(repo, "README.md", ref="main")
    forge.list_comments(repo, number)
    forge.upsert_comment(repo, number, marker="<!-- s -->", body="summary")
    forge.set_status(repo, CommitStatus(change.head_sha, StatusState.SUCCESS, "assist"))
    forge.permission(repo, "maintainer")
    assert github.server.token_request_count() == 1
    assert github.tokens is not None
    assert github.tokens.requests == 1
    lookups = [
        r for r in github.server.requests_log("github") if r["path"].endswith("/installation")
    ]
    assert len(lookups) == 1


def test_a_revoked_token_is_refreshed_on_401(github: Env) -> None:
    github.forge.get_change(github.repo, github.number)
    github.server.revoke_tokens()
    change = github.forge.get_change(github.repo, github.number)
    assert change.number == github.number
    assert github.server.token_request_count() == 2
    statuses = [r["status"] for r in github.server.requests_log("github") if "/pulls/" in r["path"]]
    assert statuses == [200, 401, 200]


def test_a_token_close_to_expiry_is_replaced(github: Env) -> None:
    github.server.token_ttl_s = 120  # inside the 300 s refresh margin
    github.forge.get_change(github.repo, github.number)
    github.forge.get_change(github.repo, github.number)
    assert github.server.token_request_count() == 2


def test_a_pinned_installation_skips_the_lookup(github: Env, app_key: AppKey) -> None:
    installation = next(iter(github.server.installations))
    forge = build_forge(github.settings, "github", installation_id=installation)
    forge.get_change(github.repo, github.number)
    assert not [
        r for r in github.server.requests_log("github") if r["path"].endswith("/installation")
    ]


def test_a_wrong_app_key_fails_authentication(github: Env, server: TestForge) -> None:
    other = AppKey.generate().private_pem
    settings = github.settings.model_copy(update={"github_private_key": SecretStr(other)})
    forge = build_forge(settings, "github", tokens=github_app_tokens(settings, installation_id=1))
    with pytest.raises(AuthenticationFailed):
        forge.get_change(github.repo, github.number)


def test_token_mode(github: Env) -> None:
    token = github.server.add_user("actions-bot", token="ghs_actions_token_0123456789")
    forge = token_forge(github, token)
    assert forge.get_change(github.repo, github.number).number == github.number
    assert github.server.token_request_count() == 0
    url = forge.clone_url(github.repo).get_secret_value()
    assert url == f"{github.server.url}/{REPO}.git".replace("://", f"://x-access-token:{token}@")


def test_a_refused_static_token_is_an_authentication_failure(env: Env) -> None:
    forge = token_forge(env, "not-a-valid-token")
    with pytest.raises(AuthenticationFailed):
        forge.get_change(env.repo, env.number)


def test_missing_credentials_are_reported() -> None:
    with pytest.raises(ForgeNotConfigured):
        build_forge(Settings(github_token=None, github_app_id=None), "github")
    with pytest.raises(ForgeNotConfigured):
        build_forge(Settings(gitlab_token=None), "gitlab")
    with pytest.raises(ForgeNotConfigured):
        github_app_tokens(Settings(github_app_id=APP_ID))
    assert BOT.endswith("[bot]")
    assert RepoRef("github", "a/b").path == "a/b"


def test_check_runs_in_app_mode(github: Env) -> None:
    forge = github.build(tokens=github.tokens, github_write_pause_s=None, github_check_runs=True)
    change = forge.get_change(github.repo, github.number)
    forge.set_status(github.repo, CommitStatus(change.head_sha, StatusState.PENDING, "assist"))
    forge.set_status(
        github.repo,
        CommitStatus(change.head_sha, StatusState.FAILURE, "assist", description="3 findings"),
    )
    runs = github.server.statuses(REPO, change.head_sha)
    assert [(r["state"], r["context"], r["description"]) for r in runs] == [
        ("pending", "assist", "pending"),
        ("failure", "assist", "3 findings"),
    ]


def test_check_runs_need_an_app(github: Env) -> None:
    token = github.server.add_user("pat-user", token="ghp_pat_token_0123456789")
    forge = github.build(
        tokens=StaticToken(SecretStr(token)), github_write_pause_s=None, github_check_runs=True
    )
    change = forge.get_change(github.repo, github.number)
    with pytest.raises(PermissionDenied):
        forge.set_status(github.repo, CommitStatus(change.head_sha, StatusState.SUCCESS, "a"))
