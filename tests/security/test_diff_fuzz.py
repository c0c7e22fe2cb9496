"""Hostile diffs: whatever the text, the parser returns files or raises DiffError, nothing
else, and every line it reports is inside its hunks."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.review.diff import DiffError, parse_diff

HEADER = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n"
diff_line = st.one_of(
    st.from_regex(r"@@ -\d{1,4}(,\d{1,4})? \+\d{1,4}(,\d{1,4})? @@[ -~]{0,20}", fullmatch=True),
    st.from_regex(r"[ +\-\\][ -~]{0,40}", fullmatch=True),
    st.sampled_from(
        ["Binary files a/x b/x differ", "new file mode 100644", "rename from a", "\\ No newline"]
    ),
    st.text(max_size=40).map(lambda t: t.replace("\n", "")),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(diff_line, max_size=30), st.booleans())
def test_any_text_parses_or_is_refused(lines: list[str], header: bool) -> None:
    text = (HEADER if header else "") + "\n".join(lines) + "\n"
    try:
        files = parse_diff(text)
    except DiffError:
        return
    for file in files:
        for hunk in file.hunks:
            for line in hunk.lines:
                if line.new_no is not None:
                    assert line.new_no >= 1
        assert file.added_lines <= file.commentable_lines
