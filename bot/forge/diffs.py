"""Pure helpers: a unified diff assembled from per-file patches (when the forge gives no
whole diff), and GitLab line codes."""

from __future__ import annotations

import hashlib

from bot.forge.types import ChangedFile


def file_header(f: ChangedFile) -> str:
    old = f.old_path or f.path
    lines = [f"diff --git a/{old} b/{f.path}"]
    if f.status == "added":
        lines.append("new file mode 100644")
    elif f.status == "removed":
        lines.append("deleted file mode 100644")
    elif f.status == "renamed":
        lines += [f"rename from {old}", f"rename to {f.path}"]
    if f.patch is None:
        lines.append(f"Binary files a/{old} and b/{f.path} differ")
        return "\n".join(lines) + "\n"
    if f.patch:
        lines.append("--- /dev/null" if f.status == "added" else f"--- a/{old}")
        lines.append("+++ /dev/null" if f.status == "removed" else f"+++ b/{f.path}")
    return "\n".join(lines) + "\n"


def unified_diff(files: tuple[ChangedFile, ...]) -> str:
    """``git diff``-style text for the files, from their hunks."""
    parts = []
    for f in files:
        patch = f.patch or ""
        if patch and not patch.endswith("\n"):
            patch += "\n"
        parts.append(file_header(f) + patch)
    return "".join(parts)


def count_changes(patch: str | None) -> tuple[int, int]:
    if not patch:
        return 0, 0
    lines = patch.splitlines()
    additions = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    deletions = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return additions, deletions


def line_code(path: str, old_line: int | None, new_line: int | None) -> str:
    """GitLab's ``line_code``: sha1 of the path, then the old and new line numbers."""
    digest = hashlib.sha1(path.encode()).hexdigest()
    return f"{digest}_{old_line or 0}_{new_line or 0}"


def old_lines(patch: str | None) -> dict[int, int]:
    """For each new-side line of a patch, the old-side line counter at that point (GitLab's
    ``old_pos``: the line itself for context lines, the next old line for additions)."""
    mapping: dict[int, int] = {}
    old = new = 0
    for line in (patch or "").splitlines():
        if line.startswith("@@"):
            ranges = line.split("@@")[1].split()
            old = int(ranges[0][1:].split(",")[0])
            new = int(ranges[1][1:].split(",")[0])
        elif line.startswith("+"):
            mapping[new] = old
            new += 1
        elif line.startswith("-"):
            old += 1
        elif not line.startswith("\\"):
            mapping[new] = old
            old += 1
            new += 1
    return mapping
