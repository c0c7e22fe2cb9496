"""What earlier reviews of a change posted, and which file patches they saw.

Behind a small protocol: :class:`SqlMemory` in the workers (PostgreSQL/SQLite), and
:class:`NoMemory` for one-off runs (CLI, the Action keeps its memory on the forge: the hidden
markers of the comments themselves).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import ColumnElement, Engine, and_, delete, select
from sqlalchemy.orm import Session

from bot.db.models import PostedFinding, ReviewedFile

if TYPE_CHECKING:  # the web process reads findings without loading the model client
    from bot.llm import Message


@dataclass(frozen=True, slots=True)
class ChangeKey:
    forge: str
    repo: str
    number: int


@dataclass(frozen=True, slots=True)
class Remembered:
    fingerprint: str
    path: str
    line: int
    start_line: int | None
    severity: str
    category: str
    title: str
    quoted_code: str
    head_sha: str
    comment_id: int | None
    status: str  # posted | outdated | summary
    replacement: str | None = None  # the suggested replacement, to see it applied later
    prompt: str | None = None  # the request's exact messages as JSON (prompt_json)


def prompt_json(messages: Iterable[Message]) -> str | None:
    """The messages as the findings table keeps them (None when there are none)."""
    items = [m.as_json() for m in messages]
    return json.dumps(items) if items else None


class FindingMemory(Protocol):
    def recall(self, change: ChangeKey) -> dict[str, Remembered]: ...

    def remember(self, change: ChangeKey, findings: Iterable[Remembered]) -> None:
        """Insert or update by fingerprint."""
        ...

    def mark(self, change: ChangeKey, fingerprints: Iterable[str], status: str) -> None: ...

    def reviewed_patches(self, change: ChangeKey) -> dict[str, str]:
        """path -> sha256 of the patch the last review saw."""
        ...

    def save_patches(self, change: ChangeKey, patches: Mapping[str, str], head_sha: str) -> None:
        """Replace the remembered patches with these."""
        ...


class NoMemory:
    """Remembers nothing (a run that starts from what the forge shows)."""

    # ruff: noqa: ARG002 - the protocol's arguments, unused here on purpose

    def recall(self, change: ChangeKey) -> dict[str, Remembered]:
        return {}

    def remember(self, change: ChangeKey, findings: Iterable[Remembered]) -> None:
        return None

    def mark(self, change: ChangeKey, fingerprints: Iterable[str], status: str) -> None:
        return None

    def reviewed_patches(self, change: ChangeKey) -> dict[str, str]:
        return {}

    def save_patches(self, change: ChangeKey, patches: Mapping[str, str], head_sha: str) -> None:
        return None


def _where(
    model: type[PostedFinding] | type[ReviewedFile], change: ChangeKey
) -> ColumnElement[bool]:
    return and_(
        model.forge == change.forge,
        model.repo == change.repo,
        model.number == change.number,
    )


class SqlMemory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def recall(self, change: ChangeKey) -> dict[str, Remembered]:
        with Session(self._engine) as session:
            rows = session.scalars(select(PostedFinding).where(_where(PostedFinding, change)))
            return {
                r.fingerprint: Remembered(
                    r.fingerprint,
                    r.path,
                    r.line,
                    r.start_line,
                    r.severity,
                    r.category,
                    r.title,
                    r.quoted_code,
                    r.head_sha,
                    r.comment_id,
                    r.status,
                    r.replacement,
                    r.prompt,
                )
                for r in rows
            }

    def remember(self, change: ChangeKey, findings: Iterable[Remembered]) -> None:
        items = list(findings)
        if not items:
            return
        with Session(self._engine) as session, session.begin():
            existing = {
                r.fingerprint: r
                for r in session.scalars(
                    select(PostedFinding)
                    .where(_where(PostedFinding, change))
                    .where(PostedFinding.fingerprint.in_([f.fingerprint for f in items]))
                    .with_for_update()
                )
            }
            for f in items:
                row = existing.get(f.fingerprint)
                if row is None:
                    row = PostedFinding(
                        forge=change.forge,
                        repo=change.repo,
                        number=change.number,
                        fingerprint=f.fingerprint,
                    )
                    session.add(row)
                    existing[f.fingerprint] = row
                row.path = f.path
                row.line = f.line
                row.start_line = f.start_line
                row.severity = f.severity
                row.category = f.category
                row.title = f.title[:1000]
                row.quoted_code = f.quoted_code[:8000]
                row.head_sha = f.head_sha
                row.comment_id = f.comment_id if f.comment_id is not None else row.comment_id
                row.status = f.status
                if f.replacement is not None:
                    row.replacement = f.replacement[:8000]
                if f.prompt is not None:
                    row.prompt = f.prompt

    def mark(self, change: ChangeKey, fingerprints: Iterable[str], status: str) -> None:
        keys = list(fingerprints)
        if not keys:
            return
        with Session(self._engine) as session, session.begin():
            for row in session.scalars(
                select(PostedFinding)
                .where(_where(PostedFinding, change))
                .where(PostedFinding.fingerprint.in_(keys))
            ):
                row.status = status

    def reviewed_patches(self, change: ChangeKey) -> dict[str, str]:
        with Session(self._engine) as session:
            rows = session.scalars(select(ReviewedFile).where(_where(ReviewedFile, change)))
            return {r.path: r.patch_sha for r in rows}

    def save_patches(self, change: ChangeKey, patches: Mapping[str, str], head_sha: str) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(delete(ReviewedFile).where(_where(ReviewedFile, change)))
            session.add_all(
                ReviewedFile(
                    forge=change.forge,
                    repo=change.repo,
                    number=change.number,
                    path=path,
                    patch_sha=sha,
                    head_sha=head_sha,
                )
                for path, sha in patches.items()
            )
