"""`assist eval mine` on a real git repository with a scripted review history."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.eval.cases import check_case, load_cases
from bot.eval.mine import touches
from tests.support.processes import ROOT, assist_cmd, assist_env

BASE = "def load(path):\n    with open(path) as f:\n        return f.read()\n\n\ndef size(path):\n    return len(load(path))\n"  # noqa: E501
A = BASE + '\n\ndef parse(path):\n    text = load(path)\n    return text.split(",")\n'
B = A.replace('return text.split(",")', 'return text.split(",") if text else []')
C = B.replace("def parse(path):\n", 'def parse(path):\n    """Comma-separated fields."""\n')


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(repo: Path, text: str, message: str) -> str:
    (repo / "app.py").write_text(text)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def comment(cid: int, sha: str, line: int, **over: object) -> dict[str, object]:
    return {"id": cid, "commit": sha, "path": "app.py", "line": line, "side": "RIGHT",
            "body": f"comment {cid}", "author": "alice", "author_type": "User", **over}  # fmt: skip


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    repo = tmp_path / "demo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    shas = {"base": commit(repo, BASE, "base")}
    git(repo, "checkout", "-qb", "pr1")
    shas["a"] = commit(repo, A, "add parse")
    shas["b"] = commit(repo, B, "handle an empty file")
    shas["c"] = commit(repo, C, "docstring")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge pr1", "pr1")
    changes = [
        {
            "number": 1, "title": "Parse files", "body": "Adds parse().", "base": shas["base"],
            "head": shas["c"], "merged": True,
            "comments": [
                comment(1, shas["a"], 12, start_line=11),  # followed by B (line 12 replaced)
                comment(2, shas["a"], 7),  # unchanged afterwards: not followed
                comment(3, shas["a"], 11, author="assist[bot]", author_type="Bot"),
                comment(4, shas["a"], 3, side="LEFT"),
                comment(5, shas["b"], 10),  # C inserts a line right after line 10
            ],
        },
        {"number": 2, "base": shas["base"], "head": shas["a"], "merged": False,
         "comments": [comment(6, shas["a"], 11)]},
    ]  # fmt: skip
    export = tmp_path / "comments.jsonl"
    export.write_text("".join(json.dumps(c) + "\n" for c in changes))
    return repo, export, shas


def test_mine_turns_followed_human_comments_into_cases(
    history: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, export, shas = history
    out = tmp_path / "cases" / "mined.jsonl"
    out.parent.mkdir()
    done = subprocess.run(
        assist_cmd(
            "eval", "mine", "--repo", str(repo), "--comments", str(export), "--out", str(out)
        ),
        env=assist_env({}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "2 cases from 2 changes" in done.stderr
    for why in ("1 change not merged", "1 comment by a bot", "1 comment on the base side",
                "1 comment not followed by a change to its lines"):  # fmt: skip
        assert why in done.stderr
    first, second = load_cases(out)
    assert first.id == f"demo!1@{shas['a'][:12]}"
    assert [(r.path, r.start_line, r.end_line, r.origin) for r in first.references] == [
        ("app.py", 11, 12, "human")
    ]
    assert first.meta["comment_ids"] == ["1"]
    assert first.source.kind == "git"
    assert (first.source.base, first.source.head) == (shas["base"], shas["a"])  # type: ignore[union-attr]
    assert '+    return text.split(",")' in first.diff  # what the reviewers saw, not the fix
    assert "if text else" not in first.diff
    assert second.id == f"demo!1@{shas['b'][:12]}"
    assert [(r.start_line, r.end_line) for r in second.references] == [(10, 10)]
    assert first.title == "Parse files"
    for case in (first, second):
        assert check_case(case, root=out.parent) == []


REPLACE = "@@ -5,2 +5,2 @@\n-a\n-b\n+c\n+d\n"
INSERT_AFTER_7 = "@@ -7,0 +8,1 @@\n+x\n"


def _file(hunks: str) -> str:
    return f"diff --git a/f b/f\n--- a/f\n+++ b/f\n{hunks}"


@pytest.mark.parametrize(
    ("hunks", "start", "end", "expected"),
    [
        (REPLACE, 5, 5, True),
        (REPLACE, 6, 9, True),
        (REPLACE, 7, 9, False),
        (REPLACE, 1, 4, False),
        (INSERT_AFTER_7, 7, 7, True),  # right after the range
        (INSERT_AFTER_7, 8, 9, True),  # right before it
        (INSERT_AFTER_7, 5, 6, False),  # two lines before the insertion
        (INSERT_AFTER_7, 9, 10, False),
        ("", 1, 1, False),
    ],
)
def test_touches(hunks: str, start: int, end: int, expected: bool) -> None:
    assert touches(_file(hunks) if hunks else "", start, end) is expected
