"""Cases from a repository's own history (`assist eval mine`).

Input: a local git repository and a JSONL export of its merged changes' review comments (one
change per line; docs/eval.md). A human line comment on a reviewed revision ``R`` is *followed*
when the change's final head differs from ``R`` on the commented lines: ``git diff R head`` of
that file removes or replaces one of them, or inserts a line directly before, inside or
directly after the range. Each reviewed revision with at least one followed comment becomes a
case: the diff from the merge base to ``R`` (what the humans saw), the files from git, and the
followed comments as accepted references. Comments by bots, on the base side, or not followed
are left out and counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import git
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.eval.cases import Case, CaseError, GitSource, Reference, iter_jsonl
from bot.review.diff import DiffError, LineKind, parse_diff

BOT_MARKER = "<!-- forge-assist:"


class ExportedComment(BaseModel):
    """One review comment as exported (GitHub: ``commit_id``, ``start_line``/``line``,
    ``side``, ``user.login``, ``user.type``; GitLab: the note's ``position``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: int | str
    commit: Annotated[str, Field(min_length=4, max_length=64)]
    path: Annotated[str, Field(min_length=1)]
    line: Annotated[int, Field(ge=1)]
    start_line: Annotated[int | None, Field(ge=1)] = None
    side: Literal["RIGHT", "LEFT", "right", "left"] = "RIGHT"
    body: str = ""
    author: str = ""
    author_type: str = "User"  # "Bot" for bot accounts


class ExportedChange(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    number: int
    title: str = ""
    body: str = ""
    base: Annotated[str, Field(min_length=1)]  # the target branch's commit (or ref)
    head: Annotated[str, Field(min_length=4)]  # the final head that was merged
    merged: bool = True
    comments: list[ExportedComment] = Field(default_factory=list)


@dataclass
class Mined:
    cases: list[Case] = field(default_factory=list)
    changes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many comments/changes

    def skip(self, why: str, count: int = 1) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + count


def touches(diff: str, start: int, end: int) -> bool:
    """Whether a diff of one file (old side = the reviewed revision) changes lines
    ``start..end`` of its old side, or inserts right before, inside or right after them."""
    try:
        files = parse_diff(diff)
    except DiffError:
        return False
    for file in files:
        for hunk in file.hunks:
            previous_old = hunk.old_start - 1 if hunk.old_length else hunk.old_start
            replacing = False  # added lines right after removed ones replace them
            for line in hunk.lines:
                if line.kind is LineKind.REMOVED and line.old_no is not None:
                    if start <= line.old_no <= end:
                        return True
                    previous_old, replacing = line.old_no, True
                elif line.kind is LineKind.CONTEXT and line.old_no is not None:
                    previous_old, replacing = line.old_no, False
                elif (
                    line.kind is LineKind.ADDED
                    and not replacing
                    and start - 1 <= previous_old <= end
                ):
                    return True
    return False


def _human(comment: ExportedComment, bots: frozenset[str]) -> bool:
    return (
        comment.author_type.lower() != "bot"
        and comment.author not in bots
        and not comment.author.endswith("[bot]")
        and BOT_MARKER not in comment.body
    )


def read_export(path: Path) -> list[ExportedChange]:
    changes: list[ExportedChange] = []
    for number, value in iter_jsonl(path):
        try:
            changes.append(ExportedChange.model_validate(value))
        except ValidationError as exc:
            raise CaseError(f"{path}:{number}: not a valid change: {exc}") from exc
    return changes


def mine(
    repo_path: Path,
    changes: Iterable[ExportedChange],
    *,
    out_dir: Path,
    name: str = "",
    bots: Iterable[str] = (),
) -> Mined:
    """The cases of ``changes`` from the repository at ``repo_path``."""
    try:
        repo = git.Repo(repo_path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise CaseError(f"{repo_path} is not a git repository") from exc
    label = name or repo_path.resolve().name
    rel = os.path.relpath(repo_path.resolve(), out_dir.resolve())
    bot_names = frozenset(bots)
    result = Mined()
    for change in changes:
        result.changes += 1
        if not change.merged:
            result.skip("change not merged")
            continue
        by_commit: dict[str, list[ExportedComment]] = {}
        for comment in change.comments:
            if not _human(comment, bot_names):
                result.skip("comment by a bot")
            elif comment.side.upper() != "RIGHT":
                result.skip("comment on the base side")
            else:
                by_commit.setdefault(comment.commit, []).append(comment)
        for commit, comments in by_commit.items():
            case = _case(repo, change, commit, comments, result, label=label, rel=rel)
            if case is not None:
                result.cases.append(case)
    return result


def _case(
    repo: git.Repo,
    change: ExportedChange,
    commit: str,
    comments: list[ExportedComment],
    result: Mined,
    *,
    label: str,
    rel: str,
) -> Case | None:
    try:
        reviewed = repo.commit(commit)
        head = repo.commit(change.head)
        bases = repo.merge_base(repo.commit(change.base), reviewed)
    except (git.BadName, ValueError) as exc:
        result.skip(f"commit not in the repository ({str(exc).strip()[:80]})", len(comments))
        return None
    if not bases:
        result.skip("reviewed revision shares no history with the base", len(comments))
        return None
    base = bases[0]
    refs: list[Reference] = []
    followed_ids: list[str] = []
    patches: dict[str, str] = {}
    for c in comments:
        if c.path not in patches:
            patches[c.path] = repo.git.diff(
                "-U0", "--no-color", "--no-ext-diff", reviewed.hexsha, head.hexsha, "--", c.path
            )
        start = c.start_line or c.line
        if reviewed.hexsha == head.hexsha or not touches(patches[c.path], start, c.line):
            result.skip("comment not followed by a change to its lines")
            continue
        refs.append(
            Reference(
                path=c.path,
                start_line=min(start, c.line),
                end_line=max(start, c.line),
                note=c.body,
                origin="human",
            )
        )
        followed_ids.append(str(c.id))
    if not refs:
        return None
    diff = repo.git.diff("-M", "--no-color", "--no-ext-diff", base.hexsha, reviewed.hexsha)
    return Case(
        id=f"{label}!{change.number}@{reviewed.hexsha[:12]}",
        title=change.title,
        body=change.body,
        diff=diff + "\n" if diff else "",
        source=GitSource(path=rel, base=base.hexsha, head=reviewed.hexsha),
        references=refs,
        meta={
            "source": "history",
            "change": change.number,
            "final_head": head.hexsha,
            "comment_ids": followed_ids,
        },
    )
