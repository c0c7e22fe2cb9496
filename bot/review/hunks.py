"""A file's diff in parts that each fit the model's context: hunk groups, and a hunk too large
for one prompt split at line boundaries. No I/O: the size of a part is measured by the caller
(with the model's own tokenizer).

A production bot on a small-context model must still review a big file: its hunks are packed,
in order, into groups whose numbered diff fits ``room`` tokens; each group is one review
request with the code around those hunks only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.review.diff import DiffLine, FileDiff, Hunk, LineKind

Measure = Callable[[FileDiff], Awaitable[int]]
"""Tokens of a part's diff as the model sees it (``numbered_diff``)."""


def with_hunks(file: FileDiff, hunks: tuple[Hunk, ...]) -> FileDiff:
    """``file`` restricted to ``hunks`` (a part of its diff)."""
    return replace(file, hunks=hunks)


def split_hunk(hunk: Hunk) -> tuple[Hunk, Hunk]:
    """The hunk cut in two at its middle line, each half with its own header."""
    if len(hunk.lines) < 2:
        raise ValueError("a hunk of one line cannot be split")
    middle = len(hunk.lines) // 2
    head, tail = hunk.lines[:middle], hunk.lines[middle:]
    old_used = sum(line.kind is not LineKind.ADDED for line in head)
    new_used = sum(line.kind is not LineKind.REMOVED for line in head)
    old_first = _start(hunk.old_start, hunk.old_length)
    new_first = _start(hunk.new_start, hunk.new_length)
    return (
        _piece(hunk, head, old_first, new_first),
        _piece(hunk, tail, old_first + old_used, new_first + new_used),
    )


def _start(start: int, length: int) -> int:
    """The first line a side's count runs from (``-N,0`` means "after line N")."""
    return start if length else start + 1


def _piece(hunk: Hunk, lines: tuple[DiffLine, ...], old_first: int, new_first: int) -> Hunk:
    old_length = sum(line.kind is not LineKind.ADDED for line in lines)
    new_length = sum(line.kind is not LineKind.REMOVED for line in lines)
    return Hunk(
        old_start=old_first if old_length else old_first - 1,
        old_length=old_length,
        new_start=new_first if new_length else new_first - 1,
        new_length=new_length,
        section=hunk.section,
        lines=lines,
    )


async def fitting_hunks(file: FileDiff, room: int, measure: Measure) -> list[Hunk] | None:
    """The file's hunks, each one larger than ``room`` split in halves until it fits; None
    when a single line alone does not fit."""
    out: list[Hunk] = []
    todo = list(file.hunks)
    while todo:
        hunk = todo.pop(0)
        if await measure(with_hunks(file, (hunk,))) <= room:
            out.append(hunk)
        elif len(hunk.lines) < 2:
            return None
        else:
            todo[:0] = split_hunk(hunk)
    return out


async def hunk_groups(file: FileDiff, room: int, measure: Measure) -> list[FileDiff] | None:
    """The file as consecutive hunk groups whose diffs each measure at most ``room`` tokens
    (as few groups as packing in order allows); None when even one line does not fit."""
    hunks = await fitting_hunks(file, room, measure)
    if hunks is None:
        return None
    groups: list[FileDiff] = []
    current: tuple[Hunk, ...] = ()
    for hunk in hunks:
        candidate = (*current, hunk)
        if current and await measure(with_hunks(file, candidate)) > room:
            groups.append(with_hunks(file, current))
            candidate = (hunk,)
        current = candidate
    if current:
        groups.append(with_hunks(file, current))
    return groups
