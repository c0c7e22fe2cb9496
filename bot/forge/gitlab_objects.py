"""python-gitlab payloads to our value types, and review comments to discussion positions."""

from __future__ import annotations

import re
from typing import Any

from bot.domain import RepoRef
from bot.forge.diffs import count_changes, line_code
from bot.forge.types import (
    ChangedFile,
    ChangeRequest,
    ChangeState,
    Comment,
    DiffRefs,
    FileStatus,
    LineComment,
    Noteable,
    ReviewComment,
)


def to_change(repo: RepoRef, a: dict[str, Any]) -> ChangeRequest:
    states: dict[str, ChangeState] = {"opened": "open", "merged": "merged"}
    refs = a.get("diff_refs") or {}
    head = refs.get("head_sha") or a.get("sha") or ""
    return ChangeRequest(
        repo=repo,
        number=int(a["iid"]),
        title=a["title"],
        body=a.get("description") or "",
        author=a["author"]["username"],
        state=states.get(a["state"], "closed"),
        draft=bool(a.get("draft", a.get("work_in_progress", False))),
        base_ref=a["target_branch"],
        head_ref=a["source_branch"],
        diff_refs=DiffRefs(
            base_sha=refs.get("base_sha") or "",
            start_sha=refs.get("start_sha") or "",
            head_sha=head,
        ),
        url=a.get("web_url", ""),
    )


def to_changed_file(item: dict[str, Any]) -> ChangedFile:
    status: FileStatus = "modified"
    if item.get("new_file"):
        status = "added"
    elif item.get("deleted_file"):
        status = "removed"
    elif item.get("renamed_file"):
        status = "renamed"
    raw = item.get("diff") or ""
    patch = raw.removesuffix("\n") if raw else None
    if item.get("too_large") or item.get("collapsed"):
        patch = None
    additions, deletions = count_changes(patch)
    return ChangedFile(
        path=item["new_path"],
        status=status,
        patch=patch if patch is not None or status != "modified" else "",
        old_path=item["old_path"] if status == "renamed" else None,
        additions=additions,
        deletions=deletions,
    )


def to_comment(number: int, thread: str | None, note: dict[str, Any], on: Noteable) -> Comment:
    position = note.get("position") or {}
    return Comment(
        id=int(note["id"]),
        kind="review" if note.get("type") == "DiffNote" else "issue",
        number=number,
        author=note["author"]["username"],
        body=note.get("body") or "",
        path=position.get("new_path"),
        line=position.get("new_line"),
        thread_id=thread or note.get("discussion_id"),
        on=on,
    )


def position_for(refs: DiffRefs, c: ReviewComment, olds: dict[int, int]) -> dict[str, Any]:
    position: dict[str, Any] = {
        "position_type": "text",
        "base_sha": refs.base_sha,
        "start_sha": refs.start_sha,
        "head_sha": refs.head_sha,
        "old_path": c.path,
        "new_path": c.path,
        "new_line": c.line,
    }
    if c.start_line is not None and c.start_line < c.line:
        position["line_range"] = {
            "start": {
                "line_code": line_code(c.path, olds.get(c.start_line), c.start_line),
                "type": "new",
                "new_line": c.start_line,
            },
            "end": {
                "line_code": line_code(c.path, olds.get(c.line), c.line),
                "type": "new",
                "new_line": c.line,
            },
        }
    return position


_PROJECT_BOT = re.compile(r"(project|group)_\d+_bot(_[0-9a-f]+)?")


def to_line_comment(note: dict[str, Any]) -> LineComment | None:
    """A discussion's first note with a text position, where it was made (the position's
    ``head_sha``); None for a note on no line."""
    position = note.get("position") or {}
    if position.get("position_type") != "text":
        return None
    new_line, old_line = position.get("new_line"), position.get("old_line")
    line = new_line or old_line
    if not line or not position.get("head_sha"):
        return None
    start = ((position.get("line_range") or {}).get("start") or {}).get(
        "new_line" if new_line else "old_line"
    )
    author = note.get("author") or {}
    username = str(author.get("username", ""))
    return LineComment(
        id=int(note["id"]),
        path=str(position.get("new_path") or position.get("old_path") or ""),
        line=int(line),
        commit=str(position["head_sha"]),
        author=username,
        body=str(note.get("body") or ""),
        side="RIGHT" if new_line else "LEFT",
        start_line=int(start) if start and int(start) != int(line) else None,
        author_is_bot=bool(author.get("bot")) or _PROJECT_BOT.fullmatch(username) is not None,
    )
