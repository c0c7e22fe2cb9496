"""A change as a git-style unified diff (``git apply`` takes it) and its stat. Pure."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

_NO_NEWLINE = "\\ No newline at end of file\n"


@dataclass(frozen=True, slots=True)
class FileStat:
    path: str
    added: int
    removed: int
    created: bool


def _lines(text: str) -> list[str]:
    """Lines with their ``\n`` kept, split on ``\n`` only (as git does; not on form feeds)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def unified_diff(originals: Mapping[str, str | None], changed: Mapping[str, str]) -> str:
    """The diff of every path in ``changed`` against its original (None: a new file)."""
    out: list[str] = []
    for path in sorted(changed):
        old, new = originals.get(path), changed[path]
        if old == new:
            continue
        out.append(f"diff --git a/{path} b/{path}\n")
        if old is None:
            out.append("new file mode 100644\n")
        body = difflib.unified_diff(
            _lines(old or ""),
            _lines(new),
            "/dev/null" if old is None else f"a/{path}",
            f"b/{path}",
            n=3,
        )
        for line in body:
            out.append(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE)
    return "".join(out)


def diff_stat(originals: Mapping[str, str | None], changed: Mapping[str, str]) -> list[FileStat]:
    stats = []
    for path in sorted(changed):
        old, new = originals.get(path), changed[path]
        added = removed = 0
        for line in difflib.unified_diff(_lines(old or ""), _lines(new), n=0, lineterm=""):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
        stats.append(FileStat(path, added, removed, old is None))
    return stats
