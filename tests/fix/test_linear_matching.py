"""Text from models, users and repositories is matched in time linear in its size: the
elision marker check of `/assist fix` edits and `.assist.toml` ignore globs."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.fix.edits import _is_elision
from bot.repoconfig import parse_repo_config
from bot.review.diff import parse_diff
from bot.review.filters import skip_reason

# The regex the elision check replaced: the reference for what counts as a marker (it
# backtracked: 21 s on a 2,000-character line, 176 s on 4,000).
OLD_ELISION = re.compile(
    r"^\s*(?:#|//|/\*|--|<!--)?\s*(?:\.\.\.|…)\s*"
    r"(?:(?:existing|rest|unchanged|remaining|other|more|same)\b[\w\s.,'-]*)?(?:\.\.\.|…)?\s*"
    r"(?:\*/|-->)?\s*$",
    re.IGNORECASE,
)
PIECES = [
    *("...", "…", " ", "\t", "#", "//", "/*", "*/", "--", "-->", "<!--", ".", ",", "'", "-"),
    *("x", "_", "é", "(", "existing", "Rest", "code", "restful", "same", "more", "9"),
]


@given(st.lists(st.sampled_from(PIECES), max_size=8).map("".join))
@example("# ... existing code ...")
@example("<!-- … rest of the file … -->")
@example("/* ... */")
@example("    // ...remaining methods unchanged")
@example("... restful")
@example(".........")
@settings(max_examples=1000, deadline=None)
def test_the_elision_check_agrees_with_the_old_regex(line: str) -> None:
    assert _is_elision(line) == bool(OLD_ELISION.match(line))


ADVERSARIAL = [
    "# ... existing " + "a " * 50_000 + "!",  # the old regex's worst case: a late mismatch
    "... rest" + " ." * 50_000 + "x*",
    "... " + "..." * 30_000 + "?",
]


@pytest.mark.parametrize("line", ADVERSARIAL)
def test_adversarial_lines_are_checked_in_one_pass(line: str) -> None:
    # Linear by construction (one strip and one scan of the line); this input would keep
    # the old regex busy for hours, so finishing at all is the check.
    assert _is_elision(line) is False


def test_multi_star_ignore_globs_do_not_backtrack() -> None:
    path = "a" * 3000 + ".py"
    diff = (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    )
    (file,) = parse_diff(diff)
    config = parse_repo_config('[review]\nignore = ["' + "a*" * 40 + 'b", "*.md"]\n')
    assert skip_reason(file, config) is None  # does not match, and says so at once
    config = parse_repo_config('[review]\nignore = ["' + "a*" * 40 + '.py"]\n')
    assert skip_reason(file, config) == "ignored by .assist.toml"
