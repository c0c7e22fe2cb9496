"""Enclosing scopes of a whole new file: every added line finds its innermost definition (the
method, not the class around it) in one pass over the definitions, so a new file with
thousands of lines and definitions costs lines times nesting depth, not their product."""

from __future__ import annotations

from bot.review.context import ContextBudget, ParseCache, file_context
from bot.review.diff import parse_diff

METHODS = 2000


def new_file_diff(path: str, text: str) -> str:
    lines = text.splitlines()
    added = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
        f"@@ -0,0 +1,{len(lines)} @@\n{added}"
    )


def big_module() -> str:
    methods = "".join(f"    def m_{i}(self):\n        return {i}\n" for i in range(METHODS))
    return f"class C:\n    x = 1\n{methods}def top():\n    return 0\n"


def test_a_whole_new_file_shows_innermost_scopes_within_the_budget() -> None:
    source = big_module()
    (file,) = parse_diff(new_file_diff("big.py", source))
    assert len(file.added_lines) == 2 * METHODS + 4
    cache = ParseCache({"big.py": source})
    text = file_context(file, {"big.py": source}, cache=cache, budget=ContextBudget(scope_lines=20))
    shown = [line for line in text.splitlines() if line.startswith("# method ")]
    # 2-line methods, in file order, until the 20-line budget is spent; the class (the
    # innermost scope of its own first lines) is too large and is said to be left out.
    assert shown == [f"# method C.m_{i}" for i in range(10)]
    assert "     4          return 0" in text  # numbered source of m_0
    (left_out,) = [line for line in text.splitlines() if line.startswith("# enclosing scopes")]
    names = left_out.split(": ", 1)[1].split(", ")
    assert names == ["C", *(f"C.m_{i}" for i in range(10, METHODS)), "top"]
    assert cache.parses == 1


def test_lines_outside_every_definition_have_no_scope() -> None:
    source = "import os\n\nVALUE = 1\n\n\ndef f():\n    return VALUE\n"
    (file,) = parse_diff(new_file_diff("m.py", source))
    text = file_context(file, {"m.py": source})
    headers = [line for line in text.splitlines() if line.startswith("# ")]
    assert headers == ["# constant VALUE", "# function f"]  # not the import, not the blanks
    assert "import os" not in text
