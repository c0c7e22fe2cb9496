"""Diff parsing and anchoring on diffs made by real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.review.anchor import Anchor, Miss, Unplaced, place
from bot.review.diff import DiffError, FileStatus, LineKind, parse_diff


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "T")
    return tmp_path


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def test_real_git_diff_kinds(repo: Path) -> None:
    (repo / "keep.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    (repo / "old_name.py").write_text("".join(f"line {i}\n" for i in range(30)))
    (repo / "gone.txt").write_text("bye\n")
    (repo / "run.sh").write_text("echo hi\n")
    (repo / "crlf.txt").write_bytes(b"a\r\nb\r\n")
    commit_all(repo, "base")
    (repo / "keep.py").write_text("def f():\n    return 10\n\n\ndef g():\n    return 2")
    git(repo, "mv", "old_name.py", "new_name.py")
    (repo / "new_name.py").write_text("".join(f"line {i}\n" for i in range(30)) + "extra\n")
    (repo / "gone.txt").unlink()
    (repo / "run.sh").chmod(0o755)
    (repo / "crlf.txt").write_bytes(b"a\r\nB\r\n")
    (repo / "logo.png").write_bytes(bytes(range(256)) * 4)
    (repo / "added.py").write_text("x = 1\n")
    commit_all(repo, "change")
    files = {f.path: f for f in parse_diff(git(repo, "diff", "-M", "HEAD~1", "HEAD"))}

    assert files["keep.py"].status is FileStatus.MODIFIED
    assert files["keep.py"].added_lines == {2, 6}  # the no-newline-at-EOF line counts as added
    assert files["new_name.py"].status is FileStatus.RENAMED
    assert files["new_name.py"].old_path == "old_name.py"
    assert files["new_name.py"].added_lines == {31}
    assert files["gone.txt"].status is FileStatus.DELETED
    assert files["gone.txt"].commentable_lines == frozenset()
    assert (files["run.sh"].old_mode, files["run.sh"].new_mode) == ("100644", "100755")
    assert files["run.sh"].hunks == ()
    assert files["logo.png"].binary
    assert files["added.py"].status is FileStatus.ADDED
    crlf = files["crlf.txt"].hunks[0].lines
    assert [(line.kind, line.text) for line in crlf if line.kind is not LineKind.CONTEXT] == [
        (LineKind.REMOVED, "b"),
        (LineKind.ADDED, "B"),
    ]


def test_not_a_diff() -> None:
    with pytest.raises(DiffError):
        parse_diff("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n")


@pytest.fixture
def change(repo: Path) -> str:
    body = [f"    value_{i} = compute({i})\n" for i in range(40)]
    (repo / "m.py").write_text("def run():\n" + "".join(body) + "    return None\n")
    commit_all(repo, "base")
    body[10] = "    value_10 = compute(10) * 2  # doubled\n"
    body[25] = "    return None\n"  # the same text as an unchanged line below
    (repo / "m.py").write_text("def run():\n" + "".join(body) + "    return None\n")
    commit_all(repo, "change")
    return git(repo, "diff", "HEAD~1", "HEAD")


def test_places_by_quote_despite_wrong_line(change: str) -> None:
    (file,) = parse_diff(change)
    for hint in (None, 1, 12, 40, 400):
        result = place(file, "value_10 = compute(10) * 2  # doubled", hint)
        assert result == Anchor("m.py", 12, 12, True)


def test_whitespace_drift_and_fragment(change: str) -> None:
    (file,) = parse_diff(change)
    assert place(file, "\tvalue_10  =  compute(10) * 2 # doubled   ", 3) == Anchor(
        "m.py", 12, 12, True
    )
    fragment = place(file, "compute(10) * 2", 12)
    assert isinstance(fragment, Anchor)
    assert (fragment.start_line, fragment.exact) == (12, False)


def test_duplicate_text_prefers_changed_line_then_hint(change: str) -> None:
    (file,) = parse_diff(change)
    # `return None` occurs as an added line (27) and possibly as context (42): only 27 changed.
    assert place(file, "return None", 42) == Anchor("m.py", 27, 27, True)


def test_unchanged_and_missing_code_is_not_placed(change: str) -> None:
    (file,) = parse_diff(change)
    assert place(file, "value_9 = compute(9)", 11) == Unplaced("m.py", Miss.UNCHANGED)
    assert place(file, "totally_absent_call()", 11) == Unplaced("m.py", Miss.NOT_FOUND)
    assert place(file, "  \n \n", 11) == Unplaced("m.py", Miss.EMPTY_QUOTE)


def test_multi_line_quote(change: str) -> None:
    (file,) = parse_diff(change)
    quote = "value_10 = compute(10) * 2  # doubled\nvalue_11 = compute(11)"
    assert place(file, quote, None) == Anchor("m.py", 12, 13, True)


@given(st.text(max_size=300), st.integers(min_value=-5, max_value=500) | st.none())
def test_never_places_outside_commentable_lines(quote: str, hint: int | None) -> None:
    diff = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@\n a\n-b\n+c\n+d\n e\n"
    (file,) = parse_diff(diff)
    result = place(file, quote, hint)
    if isinstance(result, Anchor):
        lines = set(range(result.start_line, result.end_line + 1))
        assert lines <= file.commentable_lines
        assert lines & file.added_lines
