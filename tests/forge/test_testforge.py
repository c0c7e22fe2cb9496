"""The test forge itself: it refuses requests outside GitHub's REST description, and runs in
its own process as well as in a thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from github import Auth, Github, GithubException
from pydantic import SecretStr

from bot.forge import RepoRef
from bot.forge.auth import StaticToken
from bot.forge.github import GitHubForge
from tests.testforge import RemoteTestForge, TestForge
from tests.testforge.openapi import GitHubSpec, SpecViolation


@pytest.fixture(scope="module")
def spec(corpora: Path) -> GitHubSpec:
    return GitHubSpec.load(corpora / "github" / "rest-openapi.json")


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "problem"),
    [
        ("POST", "/repos/o/r/pulls/1/reviews", {}, b'{"event": "LGTM"}', "event"),
        (
            "POST",
            "/repos/o/r/pulls/1/reviews",
            {},
            b'{"comments": [{"path": "a", "line": 1, "side": "NEW", "body": "x"}]}',
            "side",
        ),
        ("POST", "/repos/o/r/pulls/1/comments", {}, b'{"body": "x"}', "required"),
        ("GET", "/repos/o/r/pulls/one", {}, b"", "integer"),
        ("GET", "/repos/o/r/pulls/1/files", {"per_pages": ["100"]}, b"", "unknown"),
        ("POST", "/repos/o/r/statuses/abc", {}, b'{"state": "ok"}', "state"),
        ("GET", "/repos/o/r/no-such-endpoint", {}, b"", "not in GitHub"),
    ],
)
def test_spec_refuses_invalid_requests(
    spec: GitHubSpec, method: str, path: str, query: dict[str, list[str]], body: bytes, problem: str
) -> None:
    with pytest.raises(SpecViolation, match=problem):
        spec.validate(method, path, query, body)


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/repos/o/r/contents/src/deep/file.py", "/repos/{owner}/{repo}/contents/{path}"),
        ("PATCH", "/repos/o/r/git/refs/heads/assist/fix-1", "/repos/{owner}/{repo}/git/refs/{ref}"),
        (
            "GET",
            "/repos/o/r/pulls/1/comments",
            "/repos/{owner}/{repo}/pulls/{pull_number}/comments",
        ),
    ],
)
def test_spec_matches_paths_with_slashes(
    spec: GitHubSpec, method: str, path: str, template: str
) -> None:
    body = b'{"sha": "abc"}' if method == "PATCH" else b""
    assert spec.validate(method, path, {}, body).template == template


def test_an_invalid_request_through_pygithub_is_refused_and_recorded(corpora: Path) -> None:
    with TestForge(corpora=corpora) as forge:
        forge.create_repo("o/r", files={"a.txt": "a\n"})
        forge.commit("o/r", "b", {"a.txt": "b\n"})
        number = forge.add_pull("o/r", head="b")
        token = forge.add_user("bot", token="bot-token-0123456789")
        gh = Github(auth=Auth.Token(token), base_url=forge.github_api_url, retry=None)
        with pytest.raises(GithubException) as raised:
            gh.requester.requestJsonAndCheck(
                "POST",
                f"{forge.github_api_url}/repos/o/r/pulls/{number}/reviews",
                input={
                    "event": "COMMENT",
                    "body": "x",
                    "comments": [{"path": "a.txt", "line": 1, "side": "new", "body": "x"}],
                },
            )
        assert raised.value.status == 400
        assert len(forge.violations()) == 1
        assert "side" in forge.violations()[0]
        assert forge.reviews("o/r", number) == []


def test_the_forge_in_its_own_process(corpora: Path) -> None:
    with RemoteTestForge.spawn(corpora=corpora) as forge:
        forge.create_repo("o/r", files={"a.txt": "a\n"})
        forge.commit("o/r", "feature", {"a.txt": "b\n"}, "Change a")
        number = forge.add_pull("o/r", head="feature", title="From afar")
        token = forge.add_user("bot", token="bot-token-0123456789")
        adapter = GitHubForge(
            api_url=forge.github_api_url,
            tokens=StaticToken(SecretStr(token)),
            seconds_between_writes=None,
        )
        repo = RepoRef("github", "o/r")
        assert adapter.get_change(repo, number).title == "From afar"
        adapter.upsert_comment(repo, number, marker="<!-- m -->", body="hello")
        comments = forge.comments("o/r", number)
        assert [c["body"] for c in comments] == ["hello\n\n<!-- m -->"]
        assert forge.violations() == []


def test_git_push_of_a_large_pack_over_http(corpora: Path, tmp_path: Path) -> None:
    """git sends packs over 1 MB with chunked transfer encoding."""
    import os
    import subprocess

    env = {
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test",
        "GIT_TERMINAL_PROMPT": "0", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
    }  # fmt: skip
    with TestForge(corpora=corpora) as forge:
        forge.create_repo("o/r", files={"a.txt": "a\n"})
        token = forge.add_user("pusher", token="push-token-0123456789")
        url = f"{forge.url}/o/r.git".replace("://", f"://pusher:{token}@")
        work = tmp_path / "w"
        subprocess.run(["git", "clone", "-q", url, str(work)], check=True, env=env)
        (work / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))
        subprocess.run(["git", "add", "blob.bin"], cwd=work, check=True, env=env)
        subprocess.run(["git", "commit", "-qm", "big"], cwd=work, check=True, env=env)
        subprocess.run(["git", "push", "-q", "origin", "HEAD:big"], cwd=work, check=True, env=env)
        assert "big" in forge.refs("o/r")
        pushes = [r for r in forge.requests_log("git") if r["path"].endswith("git-receive-pack")]
        assert pushes
        assert {r["status"] for r in pushes} == {200}  # a probe, then the chunked pack
        read_only = forge.add_user("reader", token="read-token-0123456789", read_only=True)
        reader_url = url.replace(token, read_only).replace("pusher", "reader")
        denied = subprocess.run(
            ["git", "push", "-q", reader_url, "HEAD:x"],
            cwd=work, env=env, capture_output=True, check=False,
        )  # fmt: skip
        assert denied.returncode != 0
        assert "x" not in forge.refs("o/r")


def test_gitlab_requests_with_unknown_fields_or_wrong_line_codes_are_recorded(
    corpora: Path,
) -> None:
    import gitlab

    with TestForge(corpora=corpora) as forge:
        forge.create_repo("g/p", files={"a.txt": "1\n2\n3\n"})
        forge.commit("g/p", "b", {"a.txt": "1\ntwo\nthree\n"})
        number = forge.add_pull("g/p", head="b")
        token = forge.add_user("bot", token="bot-token-0123456789")
        refs = {k: forge.pull("g/p", number)[k] for k in ("base_sha", "start_sha", "head_sha")}
        mr = (
            gitlab.Gitlab(forge.gitlab_url, private_token=token)
            .projects.get("g/p", lazy=True)
            .mergerequests.get(number, lazy=True)
        )
        point = {"line_code": "0" * 40 + "_2_2", "type": "new", "new_line": 2}
        position = {
            **refs, "position_type": "text", "new_path": "a.txt", "old_path": "a.txt",
            "new_line": 3, "line_range": {"start": point, "end": {**point, "new_line": 3}},
        }  # fmt: skip
        mr.discussions.create({"body": "x", "position": position, "resolved": True})
        problems = forge.violations()
        assert any("unknown parameters ['resolved']" in v for v in problems)
        assert any("line_code '0000" in v for v in problems)
