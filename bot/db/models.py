"""Tables. Every schema change comes with an Alembic revision in ``migrations/versions``."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Delivery(Base):
    """One webhook request as received: accepted, ignored, duplicate or rejected.

    ``delivery_key`` is the forge's delivery id for the first verified delivery of that id and
    NULL for every other row (duplicates, rejections), so the unique index makes the first one
    win a race while every attempt is still recorded.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("forge", "delivery_key", name="uq_deliveries_forge_key"),
        Index("ix_deliveries_received_at", "received_at"),
        # The console's filters (migration 0004).
        Index("ix_deliveries_repo_id", "repo", "id"),
        Index("ix_deliveries_outcome_id", "outcome", "id"),
        Index("ix_deliveries_forge_id", "forge", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    forge: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[str] = mapped_column(String(128), index=True)
    delivery_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    event: Mapped[str] = mapped_column(String(128))
    repo: Mapped[str | None] = mapped_column(String(512), nullable=True)
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    status_code: Mapped[int] = mapped_column(Integer)
    job_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    body_bytes: Mapped[int] = mapped_column(Integer, default=0)
    body_sha256: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class JobRun(Base):
    """One job as the workers ran it: status, attempts, what it did, what it cost."""

    __tablename__ = "job_runs"
    __table_args__ = (
        # The console's filters (migration 0004).
        Index("ix_job_runs_repo_id", "repo", "id"),
        Index("ix_job_runs_status_id", "status", "id"),
        Index("ix_job_runs_change", "forge", "repo", "number"),
        Index("ix_job_runs_started_at", "started_at"),
        Index("ix_job_runs_finished_at", "finished_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    forge: Mapped[str | None] = mapped_column(String(16), nullable=True)
    repo: Mapped[str | None] = mapped_column(String(512), nullable=True)
    number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    head_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    usage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PostedFinding(Base):
    """A finding the bot posted on a pull/merge request: the memory that keeps an update from
    reposting it. ``fingerprint`` is (path, normalised code, category) hashed; ``status`` is
    ``posted``, ``outdated`` (its code left the diff) or ``summary`` (listed in the summary only,
    e.g. the forge refused the line)."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("forge", "repo", "number", "fingerprint", name="uq_findings_change_fp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    forge: Mapped[str] = mapped_column(String(16))
    repo: Mapped[str] = mapped_column(String(512))
    number: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer)
    start_line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    severity: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text, default="")
    quoted_code: Mapped[str] = mapped_column(Text, default="")
    head_sha: Mapped[str] = mapped_column(String(64))
    comment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    # issue 16: the suggested replacement (to see it applied) and the outcome from feedback
    # (accepted, rejected, ignored; NULL while undecided): see bot/feedback/outcome.py
    replacement: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # issue 17: the exact messages of the request the finding came from, as JSON
    # ([{"role": ..., "content": ...}]), for `assist export feedback` (migration 0005)
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ReviewedFile(Base):
    """The patch of one file as the last review of a change saw it: an update re-reviews only
    files whose patch changed since."""

    __tablename__ = "reviewed_files"
    __table_args__ = (
        UniqueConstraint("forge", "repo", "number", "path", name="uq_reviewed_files_change_path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    forge: Mapped[str] = mapped_column(String(16))
    repo: Mapped[str] = mapped_column(String(512))
    number: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    patch_sha: Mapped[str] = mapped_column(String(64))
    head_sha: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """One thing the bot wrote on a forge: what, where, for whom, in which job."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_repo_at", "forge", "repo", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    forge: Mapped[str] = mapped_column(String(16))
    repo: Mapped[str] = mapped_column(String(512))
    number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(256), default="")
    job_id: Mapped[str] = mapped_column(String(128), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ConsoleApiKey(Base):
    """A key for the console's JSON API. Only its SHA-256 is stored; ``prefix`` (the first
    characters) lets an operator tell keys apart. A revoked key stays listed."""

    __tablename__ = "console_api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FindingFeedback(Base):
    """One signal about a posted finding: a reaction, a reply, a thread resolved or unresolved,
    a suggestion applied, its code changed or left outdated, the change merged or closed.

    ``key`` identifies the signal at its source (``reaction:<user>:<content>``,
    ``reply:<comment id>``, ``thread:<resolved|unresolved>:<user>``, ``closed``...), so a
    redelivered webhook or a harvest that reads the same thing again adds nothing."""

    __tablename__ = "finding_feedback"
    __table_args__ = (
        UniqueConstraint(
            "forge", "repo", "number", "fingerprint", "key", name="uq_finding_feedback_key"
        ),
        Index("ix_finding_feedback_repo", "forge", "repo"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    forge: Mapped[str] = mapped_column(String(16))
    repo: Mapped[str] = mapped_column(String(512))
    number: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text, default="")
    key: Mapped[str] = mapped_column(String(256))
    actor: Mapped[str] = mapped_column(String(256), default="")
    can_write: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    source: Mapped[str] = mapped_column(String(16))  # webhook | harvest | review
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RepoRule(Base):
    """A maintainer's rule for a repository (``/assist remember``): trusted guidance in the
    prompts of its later reviews, until ``/assist forget <id>``."""

    __tablename__ = "repo_rules"
    __table_args__ = (
        UniqueConstraint("forge", "repo", "source_comment", name="uq_repo_rules_source"),
        Index("ix_repo_rules_repo", "forge", "repo"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    forge: Mapped[str] = mapped_column(String(16))
    repo: Mapped[str] = mapped_column(String(512))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(256))
    source_comment: Mapped[str] = mapped_column(String(64))  # the command's comment id
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
