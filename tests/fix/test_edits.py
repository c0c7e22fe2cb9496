"""SEARCH/REPLACE application: exact, whitespace-tolerant, indentation-aware, elided, trimmed;
never at a guessed place."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.fix.edits import (
    Applied,
    EditBlock,
    Method,
    Problem,
    Rejected,
    apply_edit,
    apply_edits,
    nearest_text,
    split_lines,
)

SOURCE = """import os


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


def save(path, text):
    with open(path, "w") as handle:
        handle.write(text)
"""


def applied(text: str | None, search: str, replace: str) -> tuple[str, Applied]:
    result = apply_edit(text, EditBlock("m.py", search, replace))
    assert not isinstance(result, Rejected), result
    return result


def rejected(text: str | None, search: str, replace: str) -> Rejected:
    result = apply_edit(text, EditBlock("m.py", search, replace))
    assert isinstance(result, Rejected), result
    return result


def test_exact_match_replaces_those_lines_only() -> None:
    new, done = applied(
        SOURCE,
        "    if not os.path.exists(path):\n        return None\n",
        "    if not os.path.isfile(path):\n        return None\n",
    )
    assert done.method is Method.EXACT
    assert done.start_line == 5
    assert new == SOURCE.replace("exists", "isfile")


def test_trailing_whitespace_and_inner_spaces_are_tolerated() -> None:
    new, done = applied(
        SOURCE,
        "    if not os.path.exists(path):   \n        return  None\t\n",
        "    if not os.path.isfile(path):\n        return None\n",
    )
    assert done.method is Method.WHITESPACE
    assert new == SOURCE.replace("exists", "isfile")


def test_blank_lines_around_the_block_need_not_match() -> None:
    new, done = applied(SOURCE, "\n\n        return None\n\n\n\n", "\n\n        return ''\n")
    assert done.method is Method.WHITESPACE
    assert "        return ''\n    with open(path) as handle:" in new


@pytest.mark.parametrize("shift", ["", "  ", "        "])
def test_indentation_drift_is_undone_and_the_replacement_shifted(shift: str) -> None:
    search = f"{shift}with open(path) as handle:\n{shift}    return handle.read()\n"
    replace = (
        f"{shift}with open(path, encoding='utf-8') as handle:\n{shift}    return handle.read()\n"
    )
    new, done = applied(SOURCE, search, replace)
    assert done.method is Method.INDENTATION
    assert new == SOURCE.replace("open(path) as", "open(path, encoding='utf-8') as")


def test_too_deep_indentation_is_shrunk() -> None:
    search = "            with open(path) as handle:\n                return handle.read()\n"
    replace = "            with open(path, 'rb') as handle:\n                return handle.read()\n"
    new, done = applied(SOURCE, search, replace)
    assert done.method is Method.INDENTATION
    assert "    with open(path, 'rb') as handle:\n        return handle.read()\n" in new


def test_a_replacement_that_cannot_be_shrunk_is_rejected() -> None:
    search = "            with open(path) as handle:\n                return handle.read()\n"
    replace = "with open(path, 'rb') as handle:\n    return handle.read()\n"
    failure = rejected(SOURCE, search, replace)
    assert failure.problem is Problem.REINDENT


def test_ambiguous_block_is_rejected_with_every_place() -> None:
    failure = rejected(SOURCE, "    with open(path", "x")
    assert failure.problem is Problem.NO_MATCH  # a fragment of a line is not a line
    text = "a = 1\nb = 2\n\na = 1\nb = 2\n"
    failure = rejected(text, "a = 1\nb = 2\n", "a = 3\nb = 2\n")
    assert failure.problem is Problem.AMBIGUOUS
    assert "lines 1, 4" in failure.detail


def test_ambiguity_is_decided_in_the_first_tier_that_finds_the_block() -> None:
    # Exact once, and whitespace-equal elsewhere: exact wins, nothing is ambiguous.
    text = "x = 1\n  y = 2\nx  =  1\n  y = 2\n"
    new, done = applied(text, "x = 1\n  y = 2\n", "x = 5\n  y = 2\n")
    assert (done.method, done.start_line) == (Method.EXACT, 1)
    assert new == "x = 5\n  y = 2\nx  =  1\n  y = 2\n"


def test_no_match_comes_back_with_the_nearest_real_text() -> None:
    failure = rejected(
        SOURCE,
        "def save(path, data):\n    with open(path, 'w') as f:\n        f.write(data)\n",
        "def save(path, data):\n    pass\n",
    )
    assert failure.problem is Problem.NO_MATCH
    assert 'def save(path, text):\n    with open(path, "w") as handle:' in failure.nearest
    assert "def load" not in failure.nearest


def test_elided_lines_are_kept() -> None:
    search = "def load(path):\n    # ... existing code ...\n        return handle.read()\n"
    replace = (
        "def load(path, mode='r'):\n    # ... existing code ...\n        return handle.read()\n"
    )
    new, done = applied(SOURCE, search, replace)
    assert done.method is Method.ELIDED
    assert new == SOURCE.replace("def load(path):", "def load(path, mode='r'):")


def test_elision_must_be_mirrored_in_the_replacement() -> None:
    search = "def load(path):\n    ...\n        return handle.read()\n"
    failure = rejected(SOURCE, search, "def load(path):\n        return handle.read()\n")
    assert failure.problem is Problem.BAD_ELISION


def test_a_real_ellipsis_line_matches_exactly_first() -> None:
    text = "class P(Protocol):\n    def f(self) -> int:\n        ...\n"
    new, done = applied(
        text, "    def f(self) -> int:\n        ...\n", "    def f(self) -> str:\n        ...\n"
    )
    assert done.method is Method.EXACT
    assert "-> str" in new


def test_a_wrong_neighbouring_context_line_is_trimmed_when_it_is_unchanged() -> None:
    # the first line is not above these lines in the file: a wrong neighbour, kept unchanged
    search = "def loader(path):\n    if not os.path.exists(path):\n        return None\n"
    replace = "def loader(path):\n    if not os.path.isfile(path):\n        return None\n"
    new, done = applied(SOURCE, search, replace)
    assert done.method is Method.TRIMMED
    assert new == SOURCE.replace("exists", "isfile")


def test_trimming_never_drops_a_changed_line() -> None:
    search = "def loader(path):\n    if not os.path.exists(path):\n        return None\n"
    replace = "def loader2(path):\n    if not os.path.isfile(path):\n        return None\n"
    assert rejected(SOURCE, search, replace).problem is Problem.NO_MATCH


def test_trimming_needs_enough_left_to_be_sure() -> None:
    text = "def f():\n    return 1\n"
    failure = rejected(text, "def g():\n    return 1\n    x\n", "def g():\n    return 2\n    x\n")
    assert failure.problem is Problem.NO_MATCH


def test_new_file_and_missing_file() -> None:
    created, done = applied(None, "", "print('hi')")
    assert (created, done.method) == ("print('hi')\n", Method.CREATED)
    assert rejected(None, "x = 1\n", "x = 2\n").problem is Problem.MISSING_FILE
    assert rejected(SOURCE, "\n", "x = 2\n").problem is Problem.EMPTY_SEARCH


def test_crlf_files_keep_their_line_endings() -> None:
    text = "a = 1\r\nb = 2\r\n"
    new, _ = applied(text, "b = 2\n", "b = 3\nc = 4\n")
    assert new == "a = 1\r\nb = 3\r\nc = 4\r\n"


def test_a_file_without_final_newline_keeps_it_that_way() -> None:
    new, _ = applied("a = 1\nb = 2", "b = 2", "b = 3")
    assert new == "a = 1\nb = 3"


def test_apply_edits_in_order_with_refusals_and_unchanged_files() -> None:
    files = {"a.py": "x = 1\ny = 2\n", "b.py": "z = 3\n"}
    outcome = apply_edits(
        [
            EditBlock("a.py", "x = 1\n", "x = 10\n"),
            EditBlock("a.py", "x = 10\ny = 2\n", "x = 10\ny = 20\n"),  # sees the first edit
            EditBlock("b.py", "z = 3\n", "z = 3\n"),  # no-op
            EditBlock("../evil.py", "", "boom"),
            EditBlock("c.py", "", "new = True\n"),
        ],
        files.get,
        refuse=lambda p: "outside" if p.startswith("..") else None,
    )
    assert outcome.files == {"a.py": "x = 10\ny = 20\n", "c.py": "new = True\n"}
    assert [r.problem for r in outcome.rejected] == [Problem.REFUSED_PATH]
    assert outcome.originals["c.py"] is None
    assert not outcome.complete


def test_retry_continues_from_the_edited_text() -> None:
    first = apply_edits([EditBlock("a.py", "x = 1\n", "x = 2\n")], {"a.py": "x = 1\n"}.get)
    second = apply_edits(
        [EditBlock("a.py", "x = 2\n", "x = 3\n")], {"a.py": "x = 1\n"}.get, start=first.files
    )
    assert second.files == {"a.py": "x = 3\n"}


def test_nearest_text_is_empty_when_nothing_resembles() -> None:
    assert nearest_text(SOURCE, "zzzzzzzz qqqqqq\n") == ""


# --- properties ---------------------------------------------------------------------------

LINE = st.text(alphabet="abcdefgh =()+:", min_size=1, max_size=20).map(str.strip).filter(bool)


@st.composite
def file_and_window(draw: st.DrawFn) -> tuple[list[str], int, int, list[str]]:
    body = draw(st.lists(LINE, min_size=1, max_size=30, unique=True))
    indents = draw(st.lists(st.sampled_from(["", "    ", "        "]), min_size=len(body),
                            max_size=len(body)))  # fmt: skip
    lines = [i + line for i, line in zip(indents, body, strict=True)]
    start = draw(st.integers(0, len(lines) - 1))
    end = draw(st.integers(start + 1, len(lines)))
    replacement = draw(st.lists(LINE, max_size=5))
    return lines, start, end, replacement


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(file_and_window())
def test_property_an_exact_block_applies_exactly_there(
    case: tuple[list[str], int, int, list[str]],
) -> None:
    lines, start, end, replacement = case
    result = apply_edit(
        _text(lines),
        EditBlock("f", _text(lines[start:end]), _text(replacement) if replacement else ""),
    )
    assert not isinstance(result, Rejected)
    expected = lines[:start] + replacement + lines[end:]
    assert split_lines(result[0]) == expected


@settings(max_examples=300, deadline=None)
@given(file_and_window(), st.sampled_from(["  ", "    ", "\t"]), st.booleans(), st.booleans())
def test_property_drifted_blocks_apply_as_the_clean_block_would(
    case: tuple[list[str], int, int, list[str]], indent: str, trailing: bool, grow: bool
) -> None:
    lines, start, end, replacement = case
    window = lines[start:end]
    if grow:  # the model indented everything further
        damaged = [indent + line for line in window]
        damaged_repl = [indent + line for line in replacement]
        expected = replacement
    else:  # the model dropped the common indentation
        common = min(len(line) - len(line.lstrip()) for line in window)
        damaged = [line[common:] for line in window]
        damaged_repl = replacement
        expected = [window[0][:common] + line for line in replacement]
    if trailing:
        damaged = [line + "  " for line in damaged]
    block = EditBlock("f", _text(damaged), _text(damaged_repl) if damaged_repl else "")
    result = apply_edit(_text(lines), block)
    assert not isinstance(result, Rejected), result
    assert split_lines(result[0]) == lines[:start] + expected + lines[end:]


@settings(max_examples=200, deadline=None)
@given(st.lists(LINE, min_size=2, max_size=10, unique=True), st.integers(2, 4))
def test_property_a_repeated_block_is_never_applied(block: list[str], copies: int) -> None:
    text = _text(["start"] + [line for _ in range(copies) for line in [*block, "sep"]])
    result = apply_edit(text, EditBlock("f", _text(block), "replaced\n"))
    assert isinstance(result, Rejected)
    assert result.problem is Problem.AMBIGUOUS


@settings(max_examples=200, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=20, unique=True), st.lists(LINE, min_size=1, max_size=4))
def test_property_an_absent_block_is_rejected_and_nothing_changes(
    lines: list[str], search: list[str]
) -> None:
    search = [f"zz{line}qq" for line in search]  # cannot occur in the file
    result = apply_edit(_text(lines), EditBlock("f", _text(search), "x\n"))
    assert isinstance(result, Rejected)
    assert result.problem in (Problem.NO_MATCH, Problem.AMBIGUOUS)


def test_elision_anchors_on_the_piece_found_once() -> None:
    text = (
        "def a():\n    return (\n        1\n    )\n\n\ndef b():\n    return (\n        2\n    )\n"
    )
    # "    )" occurs twice; the piece after the elision is unique: the nearest ")" before it
    search = "    )\n# ...\ndef b():\n    return (\n"
    replace = "    )\n# ...\ndef b(x):\n    return (\n"
    new, done = applied(text, search, replace)
    assert done.method is Method.ELIDED
    assert new == text.replace("def b():", "def b(x):")


def test_elision_with_no_unique_piece_is_ambiguous() -> None:
    text = "x = 1\ny = 2\nx = 1\ny = 2\n"
    failure = rejected(text, "x = 1\n...\ny = 2\n", "x = 5\n...\ny = 2\n")
    assert failure.problem is Problem.AMBIGUOUS
