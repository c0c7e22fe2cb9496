"""`assist eval mine --repo URL` against the test forge (GitHub and GitLab): a scripted review
history in a real git repository served over HTTP, read through the forge adapters."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.domain import ForgeKind, RepoRef
from bot.eval.cases import check_case, load_cases
from bot.eval.forge_mine import forge_repo
from bot.eval.mine import BOT_MARKER
from tests.eval.test_mine import BASE, A, B, C
from tests.forge.conftest import APP_ID, GITLAB_TOKEN
from tests.support.processes import ROOT, assist_cmd, assist_env
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

REPO = "octo/parser"
USER = "forge-reader"


@pytest.fixture(params=["github", "gitlab"])
def kind(request: pytest.FixtureRequest) -> ForgeKind:
    return request.param  # type: ignore[no-any-return]


def inline(
    forge: TestForge,
    kind: ForgeKind,
    number: int,
    body: str,
    line: int,
    *,
    author: str = "alice",
    start_line: int | None = None,
    left: bool = False,
) -> int:
    """An inline comment on the change's head as it is now, as each forge records it."""
    cid = forge.add_comment(REPO, number, body, author=author, path="app.py", line=line)
    note = next(n for n in forge.repo(REPO).notes if n.id == cid)
    assert note.position is not None
    if left:
        note.side, note.line = "LEFT", line
        note.position = {**note.position, "new_line": None, "old_line": line}
    if start_line is not None:
        note.start_line = start_line
        end = {"new_line": line, "old_line": None, "type": "new"}
        note.position = {
            **note.position, "line_range": {"start": {**end, "new_line": start_line}, "end": end},
        }  # fmt: skip
    return cid


@pytest.fixture
def history(
    kind: ForgeKind, testforge: TestForge, app_key: AppKey
) -> tuple[dict[str, str], dict[str, str]]:
    """Change 1 (merged) reviewed on A and B, fixed by B and C; change 2 closed unmerged."""
    forge = testforge
    forge.create_repo(REPO, files={"app.py": BASE}, members={"alice": "write"})
    shas = {"base": forge.repo(REPO).git.rev("refs/heads/main") or ""}
    bot = "assist[bot]" if kind == "github" else "project_7_bot_0a1b"
    shas["a"] = forge.commit(REPO, "pr1", {"app.py": A}, "add parse")
    one = forge.add_pull(REPO, head="pr1", title="Parse files", body="Adds parse().")
    first = inline(forge, kind, one, "comment 1", 12, start_line=11)  # followed by B
    inline(forge, kind, one, "comment 2", 7)  # unchanged afterwards: not followed
    inline(forge, kind, one, f"comment 3 {BOT_MARKER} -->", 11, author=bot)
    inline(forge, kind, one, "comment 4", 3, left=True)
    forge.reply(REPO, first, "a reply is no comment of its own")
    shas["b"] = forge.commit(REPO, "pr1", {"app.py": B}, "handle an empty file")
    inline(forge, kind, one, "comment 5", 10)  # C inserts a line right after line 10
    shas["c"] = forge.commit(REPO, "pr1", {"app.py": C}, "docstring")
    forge.close(REPO, one, merged=True)
    forge.commit(REPO, "pr2", {"app.py": A}, "add parse again")
    two = forge.add_pull(REPO, head="pr2", title="Unmerged")
    inline(forge, kind, two, "comment 6", 11)
    forge.commit(REPO, "pr2", {"app.py": B}, "follow it")
    forge.close(REPO, two)
    if kind == "github":
        forge.add_app(APP_ID, app_key.public_pem)
        forge.add_installation(APP_ID, [REPO])
        env = {
            "ASSIST_GITHUB_API_URL": forge.github_api_url,
            "ASSIST_GITHUB_APP_ID": str(APP_ID),
            "ASSIST_GITHUB_PRIVATE_KEY": app_key.private_pem,
        }
    else:
        forge.add_user(USER, token=GITLAB_TOKEN)
        forge.set_permission(REPO, USER, "read")
        env = {"ASSIST_GITLAB_URL": forge.gitlab_url, "ASSIST_GITLAB_TOKEN": GITLAB_TOKEN}
    return shas, env


def test_mine_reads_the_history_through_the_forge(
    kind: ForgeKind,
    testforge: TestForge,
    history: tuple[dict[str, str], dict[str, str]],
    tmp_path: Path,
) -> None:
    shas, env = history
    out = tmp_path / "cases" / "mined.jsonl"
    out.parent.mkdir()
    url = f"{testforge.url}/{REPO}"
    done = subprocess.run(
        assist_cmd("eval", "mine", "--repo", url, "--forge", kind, "--out", str(out)),
        env=assist_env({**env, "ASSIST_FORGE_TIMEOUT_S": "10"}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "2 cases from 1 changes written to "
        f"{out}; left out: 1 comment by a bot, 1 comment not followed by a change to its lines, "
        "1 comment on the base side"
    ) in done.stderr
    first, second = load_cases(out)
    assert first.id == f"parser!1@{shas['a'][:12]}"
    assert [(r.path, r.start_line, r.end_line, r.origin, r.note) for r in first.references] == [
        ("app.py", 11, 12, "human", "comment 1")
    ]
    assert first.title == "Parse files"
    assert first.body == "Adds parse()."
    assert first.source.kind == "git"
    assert first.source.path == "repos/octo__parser.git"  # type: ignore[union-attr]
    assert (first.source.base, first.source.head) == (shas["base"], shas["a"])  # type: ignore[union-attr]
    assert '+    return text.split(",")' in first.diff  # what the reviewers saw, not the fix
    assert "if text else" not in first.diff
    assert first.meta["final_head"] == shas["c"]
    assert second.id == f"parser!1@{shas['b'][:12]}"
    assert [(r.start_line, r.end_line, r.note) for r in second.references] == [
        (10, 10, "comment 5")
    ]
    for case in (first, second):
        assert check_case(case, root=out.parent) == []
    # No credential reached the disk.
    config = (out.parent / "repos" / "octo__parser.git" / "config").read_text()
    assert "x-access-token" not in config
    assert GITLAB_TOKEN not in config


def test_a_local_repository_needs_comments_and_a_url_none(tmp_path: Path) -> None:
    for args in (["--repo", str(tmp_path)], ["--repo", "https://github.com/o/r", "--comments",
                                              str(tmp_path / "c.jsonl")]):  # fmt: skip
        done = subprocess.run(
            assist_cmd("eval", "mine", *args, "--out", str(tmp_path / "o.jsonl")),
            env=assist_env({}),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2
        assert "give --comments with a local repository" in done.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/o/r", RepoRef("github", "o/r")),
        ("https://github.com/o/r.git", RepoRef("github", "o/r")),
        ("https://github.com/o/r/pull/7", RepoRef("github", "o/r")),
        ("https://gitlab.com/g/sub/p", RepoRef("gitlab", "g/sub/p")),
        ("https://gitlab.com/g/sub/p/-/merge_requests/3", RepoRef("gitlab", "g/sub/p")),
        ("https://git.example.com/gitlab/g/p", RepoRef("gitlab", "g/p")),
    ],
)
def test_forge_repo(url: str, expected: RepoRef) -> None:
    gitlab = "https://git.example.com/gitlab" if "example" in url else "https://gitlab.com"
    assert forge_repo(url, gitlab_url=gitlab) == expected
