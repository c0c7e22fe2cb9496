"""The AACR-Bench converter: every aacr-mini item becomes a valid case; the full label files
with local checkouts, and what is needed when a checkout is missing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.eval.aacr import import_labels, import_mini
from bot.eval.cases import (
    Case,
    FilesSource,
    Reference,
    check_case,
    diff_files,
    load_cases,
    side_paths,
)
from tests.conftest import CORPORA
from tests.support.processes import ROOT, assist_cmd, assist_env

MINI = CORPORA / "aacr-mini"


def test_every_aacr_mini_item_becomes_a_valid_case(tmp_path: Path) -> None:
    imported = import_mini(MINI, tmp_path)
    assert len(imported.cases) == len(list((MINI / "items").iterdir())) == 18
    assert imported.needed == []
    refs = [r for c in imported.cases for r in c.references]
    assert sum(r.label == "accepted" for r in refs) == 100
    assert sum(r.label == "rejected" for r in refs) == 43
    # Two rejected comments point at removed base lines (the corpus README says so).
    assert sorted((r.path, r.start_line, r.label) for r in refs if r.side == "left") == [
        ("agent/component/rewrite.py", 41, "rejected"),
        ("packages/core/src/tools/edit.ts", 75, "rejected"),
    ]
    for case in imported.cases:
        assert check_case(case, root=tmp_path) == [], case.id
        present = side_paths(diff_files(case))
        for ref in case.references:
            assert ref.path in present[ref.side]
    by_id = {c.id: c for c in imported.cases}
    assert {c.language for c in imported.cases} == {
        "Python",
        "Go",
        "TypeScript",
        "JavaScript",
        "Rust",
    }
    assert by_id["infiniflow/ragflow#5065"].references[0].start_line == 49


def test_the_cli_writes_cases_that_load_back(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "mini.jsonl"
    out.parent.mkdir()
    done = subprocess.run(
        assist_cmd("eval", "import-aacr", str(MINI), "--out", str(out)),
        env=assist_env({}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    cases = load_cases(out)
    assert len(cases) == 18
    assert all(check_case(c, root=out.parent) == [] for c in cases)


def test_check_case_names_what_is_wrong(tmp_path: Path) -> None:
    diff = (
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n"
        "@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n"
    )
    case = Case(
        id="x",
        diff=diff,
        source=FilesSource(head={"new.py": "a = 1\nb = 2\n"}),
        references=[
            Reference(path="new.py", start_line=2, end_line=2),
            Reference(path="other.py", start_line=1, end_line=1),
            Reference(path="new.py", start_line=2, end_line=3),
            Reference(path="new.py", side="left", start_line=1, end_line=1),
        ],
    )
    problems = check_case(case, root=tmp_path)
    assert len(problems) == 3
    assert "reference 1 (other.py:1-1): not a file on the right side" in problems[0]
    assert "reference 2 (new.py:2-3): the file has 2 lines on the right side" in problems[1]
    assert "reference 3 (new.py:1-1): not a file on the left side" in problems[2]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def comment(path: str, start: int, end: int, **over: object) -> dict[str, object]:
    return {
        "is_ai_comment": False, "note": "n", "path": path, "side": "right",
        "source_model": "", "from_line": start, "to_line": end,
        "category": "Code Defect", "context": "Diff Level", **over,
    }  # fmt: skip


def test_full_labels_with_a_checkout_and_the_commits_a_missing_one_needs(tmp_path: Path) -> None:
    repo = tmp_path / "checkouts" / "acme__widget"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "a.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "root")
    fork = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-qb", "pr")
    (repo / "a.py").write_text("x = 1\ny = 2\nz = 3\n")
    git(repo, "commit", "-qam", "pr")
    target = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    (repo / "b.py").write_text("unrelated = True\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "main moves on")
    source = git(repo, "rev-parse", "HEAD").strip()  # later than the fork point
    labels = tmp_path / "labels"
    labels.mkdir()
    item = {
        "change_line_count": 2, "project_main_language": "Python", "source_commit": source,
        "target_commit": target, "githubPrUrl": "https://github.com/acme/widget/pull/7",
        "category": "Bug Fix",
    }  # fmt: skip
    missing = item | {"githubPrUrl": "https://github.com/other/thing/pull/1"}
    only_negative = item | {"githubPrUrl": "https://github.com/acme/widget/pull/8"}
    (labels / "positive_samples.json").write_text(
        json.dumps([item | {"comments": [comment("a.py", 3, 2)]}, missing | {"comments": []}])
    )
    (labels / "negative_samples.json").write_text(
        json.dumps(
            [
                item | {"comments": [comment("a.py", 1, 1)]},
                only_negative | {"comments": [comment("a.py", 2, 2)]},
            ]
        )
    )
    imported = import_labels(labels, tmp_path / "checkouts", tmp_path)
    assert [n.repo for n in imported.needed] == ["other/thing"]
    assert imported.needed[0].commits == (source, target)
    first, negative_only = imported.cases
    assert first.id == "acme/widget#7"
    assert "b.py" not in first.diff  # the merge base, not the later source commit
    assert first.meta["base_commit"] == fork
    assert [(r.label, r.start_line, r.end_line) for r in first.references] == [
        ("accepted", 2, 3),
        ("rejected", 1, 1),
    ]
    assert first.meta["fixes"] == ["accepted comment 0: from_line 3 > to_line 2, swapped"]
    assert negative_only.clean
    for case in imported.cases:
        assert check_case(case, root=tmp_path) == []


def test_a_folder_that_is_not_aacr_is_refused(tmp_path: Path) -> None:
    from bot.eval.cases import CaseError

    with pytest.raises(CaseError, match="no items/"):
        import_mini(tmp_path, tmp_path)
