"""The diff of a pull/merge request as frozen values, parsed with unidiff. Pure.

Handles renames, additions, deletions, binary files, mode changes, CRLF line endings and
"no newline at end of file" markers. Line numbers are the forge's: 1-based, new side for
comments.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet


class DiffError(ValueError):
    """The text is not a unified diff."""


class FileStatus(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"


class LineKind(enum.StrEnum):
    ADDED = "+"
    REMOVED = "-"
    CONTEXT = " "


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: LineKind
    old_no: int | None
    new_no: int | None
    text: str  # without the line ending


@dataclass(frozen=True, slots=True)
class Hunk:
    old_start: int
    old_length: int
    new_start: int
    new_length: int
    section: str
    lines: tuple[DiffLine, ...]

    def new_side(self) -> tuple[DiffLine, ...]:
        """The lines present in the new file (added and context), in order."""
        return tuple(line for line in self.lines if line.kind is not LineKind.REMOVED)


@dataclass(frozen=True)
class FileDiff:
    path: str  # the new path (the old one for a deleted file)
    old_path: str | None
    status: FileStatus
    binary: bool
    old_mode: str | None
    new_mode: str | None
    hunks: tuple[Hunk, ...]

    @cached_property
    def added_lines(self) -> frozenset[int]:
        return frozenset(
            line.new_no
            for hunk in self.hunks
            for line in hunk.lines
            if line.kind is LineKind.ADDED and line.new_no is not None
        )

    @cached_property
    def commentable_lines(self) -> frozenset[int]:
        """New-side lines inside the diff's hunks: where a forge accepts an inline comment."""
        return frozenset(
            line.new_no for hunk in self.hunks for line in hunk.new_side() if line.new_no
        )

    def hunk_of(self, new_line: int) -> Hunk | None:
        for hunk in self.hunks:
            if hunk.new_start <= new_line < hunk.new_start + max(hunk.new_length, 1):
                return hunk
        return None


def _strip_prefix(name: str | None) -> str | None:
    if name is None or name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


def _modes(info: list[str]) -> tuple[str | None, str | None]:
    old = new = None
    for raw in info:
        line = raw.strip()
        if line.startswith("old mode "):
            old = line.removeprefix("old mode ")
        elif line.startswith("new mode "):
            new = line.removeprefix("new mode ")
        elif line.startswith("new file mode "):
            new = line.removeprefix("new file mode ")
        elif line.startswith("deleted file mode "):
            old = line.removeprefix("deleted file mode ")
    return old, new


def parse_diff(text: str) -> tuple[FileDiff, ...]:
    """Parse a unified (git) diff into files; raises DiffError on text that is not one."""
    try:
        patch = PatchSet(text)
    except UnidiffParseError as exc:
        raise DiffError(f"not a unified diff: {exc}") from exc
    files = []
    for pf in patch:
        old_path = _strip_prefix(pf.source_file)
        new_path = _strip_prefix(pf.target_file)
        if pf.is_added_file:
            status = FileStatus.ADDED
        elif pf.is_removed_file:
            status = FileStatus.DELETED
        elif pf.is_rename or (old_path and new_path and old_path != new_path):
            status = FileStatus.RENAMED
        else:
            status = FileStatus.MODIFIED
        hunks = tuple(
            Hunk(
                old_start=h.source_start,
                old_length=h.source_length,
                new_start=h.target_start,
                new_length=h.target_length,
                section=h.section_header.strip(),
                lines=tuple(
                    DiffLine(
                        LineKind(line.line_type),
                        line.source_line_no,
                        line.target_line_no,
                        line.value.rstrip("\r\n"),
                    )
                    for line in h
                    if line.line_type in ("+", "-", " ")
                ),
            )
            for h in pf
        )
        old_mode, new_mode = _modes(list(pf.patch_info or []))
        files.append(
            FileDiff(
                path=new_path or old_path or pf.path,
                old_path=old_path,
                status=status,
                binary=bool(pf.is_binary_file),
                old_mode=old_mode,
                new_mode=new_mode,
                hunks=hunks,
            )
        )
    return tuple(files)
