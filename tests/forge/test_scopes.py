"""Least privilege for GitHub App tokens: each token is for the job's one repository and
carries only the permissions of the job's scope; the test forge enforces both as GitHub does
(another repository: 404; a missing permission: 403)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from bot.forge import CommitStatus, RepoRef, StatusState
from bot.forge.errors import NotFound, PermissionDenied, ValidationFailed
from bot.forge.factory import build_forge, github_app_tokens
from bot.forge.scopes import PERMISSIONS, scope_of_job
from bot.forge.types import ChangeProposal, FileChange
from bot.jobs.context import WorkerContext
from bot.jobs.forge import job_forge
from tests.forge.conftest import APP_ID, REPO, Env

OTHER = "octo/gadgets"


@pytest.fixture
def github(github_env: Env) -> Env:
    server = github_env.server
    server.create_repo(OTHER, files={"README.md": "# gadgets\n"})
    server.installations[next(iter(server.installations))].repos.append(OTHER)
    return github_env


def test_a_job_token_names_its_repository_and_the_scope_permissions(github: Env) -> None:
    forge = build_forge(github.settings, "github", scope="review", github_write_pause_s=None)
    forge.get_change(github.repo, github.number)
    (grant,) = github.server.installation_token_grants()
    assert grant["repos"] == [REPO]
    assert grant["permissions"] == dict(PERMISSIONS["review"])
    assert grant["permissions"]["contents"] == "read"


def test_a_token_for_one_repository_is_refused_on_another(github: Env) -> None:
    tokens = github_app_tokens(github.settings, scope="review")
    value = tokens.token(github.repo)
    # the same token used on the other repository of the installation: it does not exist
    forge = github.build(tokens=_Fixed(value), github_write_pause_s=None)
    with pytest.raises(NotFound):
        forge.read_file(RepoRef("github", OTHER), "README.md", ref="main")
    assert forge.read_file(github.repo, "README.md", ref="main") == b"# widgets\n"


def test_the_adapter_asks_one_token_per_repository(github: Env) -> None:
    forge = build_forge(github.settings, "github", scope="index", github_write_pause_s=None)
    forge.read_file(github.repo, "README.md", ref="main")
    forge.read_file(RepoRef("github", OTHER), "README.md", ref="main")
    forge.read_file(github.repo, "src/app.py", ref="main")
    grants = github.server.installation_token_grants()
    assert [g["repos"] for g in grants] == [[REPO], [OTHER]]


def test_a_review_token_cannot_create_refs_or_push(github: Env, tmp_path: Path) -> None:
    forge = build_forge(github.settings, "github", scope="review", github_write_pause_s=None)
    proposal = ChangeProposal(
        branch="assist/fix-1",
        base="main",
        title="t",
        body="b",
        files=(FileChange("README.md", b"changed\n"),),
    )
    with pytest.raises(PermissionDenied):
        forge.open_change(github.repo, proposal)
    assert "assist/fix-1" not in github.server.refs(REPO)
    result = _push(forge.clone_url(github.repo).get_secret_value(), tmp_path)
    assert result.returncode != 0
    assert "assist/pushed" not in github.server.refs(REPO)
    # what the review needs is allowed
    change = forge.get_change(github.repo, github.number)
    forge.set_status(github.repo, CommitStatus(change.head_sha, StatusState.SUCCESS, "assist"))
    forge.upsert_comment(github.repo, github.number, marker="<!-- s -->", body="summary")


def test_a_fix_token_pushes_and_opens_the_change(github: Env, tmp_path: Path) -> None:
    forge = build_forge(github.settings, "github", scope="fix", github_write_pause_s=None)
    result = _push(forge.clone_url(github.repo).get_secret_value(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "assist/pushed" in github.server.refs(REPO)
    change = forge.open_change(
        github.repo, ChangeProposal(branch="assist/pushed", base="main", title="t", body="b")
    )
    assert change.head_ref == "assist/pushed"


def test_an_index_token_only_reads(github: Env, tmp_path: Path) -> None:
    forge = build_forge(github.settings, "github", scope="index", github_write_pause_s=None)
    url = forge.clone_url(github.repo).get_secret_value()
    clone = subprocess.run(
        ["git", "clone", "-q", url, str(tmp_path / "c")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert clone.returncode == 0, clone.stderr
    with pytest.raises(PermissionDenied):
        forge.upsert_comment(github.repo, github.number, marker="<!-- s -->", body="x")


def test_more_than_the_installation_has_is_refused(github: Env) -> None:
    installation = github.server.installations[next(iter(github.server.installations))]
    del installation.permissions["checks"]
    forge = build_forge(github.settings, "github", scope="review", github_write_pause_s=None)
    with pytest.raises(ValidationFailed):
        forge.get_change(github.repo, github.number)


def test_job_kinds_pick_their_scope() -> None:
    assert scope_of_job("fix") == "fix"
    assert scope_of_job("index") == "index"
    assert [scope_of_job(k) for k in ("review", "ask", "feedback", "harvest", "help")] == [
        "review"
    ] * 5
    assert PERMISSIONS["fix"]["contents"] == "write"
    assert PERMISSIONS["review"]["contents"] == "read"
    assert set(PERMISSIONS["index"]) == {"metadata", "contents"}
    assert APP_ID


class _Fixed:
    """A token source that always hands out one token (to use it where it was not made for)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def token(self, repo: RepoRef) -> str:
        return self.value

    def invalidate(self, repo: RepoRef, token: str) -> bool:
        return False


def _push(url: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    work = tmp / "w"
    git = ["git", "-c", "credential.helper=", "-C", str(work)]
    subprocess.run(["git", "clone", "-q", url, str(work)], check=True, capture_output=True)
    (work / "NEW.md").write_text("new\n")
    subprocess.run([*git, "add", "NEW.md"], check=True, capture_output=True)
    subprocess.run(
        [*git, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "n"],
        check=True, capture_output=True,
    )  # fmt: skip
    return subprocess.run(
        [*git, "push", "-q", url, "HEAD:refs/heads/assist/pushed"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_worker_builds_each_job_its_scope(github: Env, redis_url: str) -> None:
    """``job_forge`` (what every job calls) asks for the job's scope; review by default."""
    ctx = WorkerContext(
        github.settings, sa.create_engine("sqlite://"), redis.Redis.from_url(redis_url)
    )
    kwargs = {"forge": "github", "repo": REPO, "installation_id": None}
    job_forge(ctx, kwargs).get_change(github.repo, github.number)
    job_forge(ctx, kwargs, scope="fix").get_change(github.repo, github.number)
    job_forge(ctx, kwargs, scope="index").read_file(github.repo, "README.md", ref="main")
    grants = github.server.installation_token_grants()
    assert [g["permissions"] for g in grants] == [
        dict(PERMISSIONS["review"]),
        dict(PERMISSIONS["fix"]),
        dict(PERMISSIONS["index"]),
    ]
    assert {tuple(g["repos"]) for g in grants} == {(REPO,)}
