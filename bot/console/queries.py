"""The console's reads: one function per page, plain rows out, every one limited to the
repositories the signed-in role may see. The pages and the JSON API both call these."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    SQLColumnExpression,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.db.deliveries import Outcome
from bot.db.models import AuditEntry, Delivery, JobRun, PostedFinding

PAGE_SIZE = 50
# Where to look for the deliveries that created a job: before it started (a job may wait in
# the queue, or be deferred by limits, for a while).
_WINDOW = dt.timedelta(days=2)
_SLACK = dt.timedelta(minutes=1)
JOB_STATUSES = ("running", "done", "failed", "deferred", "superseded")
DELIVERY_OUTCOMES = tuple(o.value for o in Outcome)
# Things that look like credentials are masked in any text the console shows (job errors).
_SECRETS = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{16,}"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)|(?i:bearer)\s+[A-Za-z0-9._\-]{16,})"
)


def redact(text: str) -> str:
    """``text`` with tokens, bearer credentials and URL passwords replaced by ``[redacted]``."""
    return _SECRETS.sub("[redacted]", text)


@dataclass(frozen=True, slots=True)
class Scope:
    """The repositories a role may see: ``owner/name`` or glob patterns (``owner/*``, ``*``).

    Only ``*`` shows rows without a repository (a ping, a rejected delivery)."""

    patterns: tuple[str, ...]

    def allows(self, repo: str | None) -> bool:
        if repo is None:
            return "*" in self.patterns
        return any(fnmatch.fnmatchcase(repo, p) for p in self.patterns)

    def clause(self, column: InstrumentedAttribute[str | None]) -> ColumnElement[bool]:
        if "*" in self.patterns:
            return true()
        if not self.patterns:
            return false()
        parts: list[ColumnElement[bool]] = []
        for pattern in self.patterns:
            if "*" in pattern or "?" in pattern:
                like = (
                    (pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
                    .replace("*", "%")
                    .replace("?", "_")
                )
                parts.append(column.like(like, escape="\\"))
            else:
                parts.append(column == pattern)
        return or_(*parts)


@dataclass(frozen=True, slots=True)
class Filters:
    forge: str | None = None
    repo: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    status: str | None = None
    kind: str | None = None
    before: int | None = None  # keyset paging: rows with a smaller id
    limit: int = PAGE_SIZE


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def delivery_row(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "forge": d.forge,
        "delivery_id": d.delivery_id,
        "event": d.event,
        "repo": d.repo,
        "outcome": d.outcome,
        "reason": d.reason,
        "status_code": d.status_code,
        "job_ids": list(d.job_ids or []),
        "received_at": _iso(d.received_at),
    }


def job_row(j: JobRun) -> dict[str, Any]:
    detail = j.detail or {}
    return {
        "id": j.id,
        "job_id": j.job_id,
        "kind": j.kind,
        "forge": j.forge,
        "repo": j.repo,
        "number": j.number,
        "head_sha": j.head_sha,
        "status": j.status,
        "attempts": j.attempts,
        "error": redact(j.error or ""),
        "why": str(detail.get("limit") or detail.get("reason") or detail.get("by") or ""),
        "started_at": _iso(j.started_at),
        "finished_at": _iso(j.finished_at),
        "seconds": _seconds(j.started_at, j.finished_at),
    }


def deliveries(engine: Engine, f: Filters, scope: Scope) -> list[dict[str, Any]]:
    q = select(Delivery).where(scope.clause(Delivery.repo))
    if f.forge:
        q = q.where(Delivery.forge == f.forge)
    if f.repo:
        q = q.where(Delivery.repo == f.repo)
    if f.status:
        q = q.where(Delivery.outcome == f.status)
    if f.since:
        q = q.where(Delivery.received_at >= f.since)
    if f.until:
        q = q.where(Delivery.received_at < f.until)
    if f.before:
        q = q.where(Delivery.id < f.before)
    q = q.order_by(Delivery.id.desc()).limit(f.limit)
    with engine.connect() as conn:
        return [delivery_row(d) for d in _scalars(conn, q)]


def _scalars(conn: Any, q: Any) -> list[Any]:
    with Session(bind=conn) as session:
        return list(session.scalars(q))


def jobs(engine: Engine, f: Filters, scope: Scope) -> list[dict[str, Any]]:
    q = select(JobRun).where(scope.clause(JobRun.repo))
    if f.forge:
        q = q.where(JobRun.forge == f.forge)
    if f.repo:
        q = q.where(JobRun.repo == f.repo)
    if f.status:
        q = q.where(JobRun.status == f.status)
    if f.kind:
        q = q.where(JobRun.kind == f.kind)
    if f.since:
        q = q.where(JobRun.started_at >= f.since)
    if f.until:
        q = q.where(JobRun.started_at < f.until)
    if f.before:
        q = q.where(JobRun.id < f.before)
    q = q.order_by(JobRun.id.desc()).limit(f.limit)
    with engine.connect() as conn:
        return [job_row(j) for j in _scalars(conn, q)]


def job(engine: Engine, job_id: str, scope: Scope) -> dict[str, Any] | None:
    """One job with the deliveries that created it, or None (unknown or out of scope)."""
    with engine.connect() as conn:
        found = _scalars(conn, select(JobRun).where(JobRun.job_id == job_id))
        if not found or not scope.allows(found[0].repo):
            return None
        run: JobRun = found[0]
        row = job_row(run)
        detail = dict(run.detail or {})
        row["detail"] = {k: v for k, v in detail.items() if k not in ("usage", "summary_url")}
        row["usage"] = dict(run.usage or {})
        row["summary_url"] = str(detail.get("summary_url") or "")
        near = select(Delivery).where(
            Delivery.forge == (run.forge or ""), Delivery.repo == run.repo
        )
        if run.started_at is not None:  # a delivery comes before the job it creates
            near = near.where(
                Delivery.received_at <= run.started_at + _SLACK,
                Delivery.received_at >= run.started_at - _WINDOW,
            )
        recent = _scalars(conn, near.order_by(Delivery.id.desc()).limit(500))
    row["deliveries"] = [delivery_row(d) for d in recent if job_id in (d.job_ids or [])]
    return row


def change(
    engine: Engine, forge: str, repo: str, number: int, scope: Scope
) -> dict[str, Any] | None:
    """A pull/merge request's timeline: deliveries, jobs, forge writes, findings."""
    if not scope.allows(repo):
        return None
    with engine.connect() as conn:
        runs = _scalars(
            conn,
            select(JobRun)
            .where(JobRun.forge == forge, JobRun.repo == repo, JobRun.number == number)
            .order_by(JobRun.id),
        )
        ids = {r.job_id for r in runs}
        near = select(Delivery).where(Delivery.forge == forge, Delivery.repo == repo)
        started = [r.started_at for r in runs if r.started_at is not None]
        if started and len(started) == len(runs):
            near = near.where(
                Delivery.received_at >= min(started) - _WINDOW,
                Delivery.received_at <= max(started) + _SLACK,
            )
        recent = _scalars(conn, near.order_by(Delivery.id.desc()).limit(1000))
        writes = _scalars(
            conn,
            select(AuditEntry)
            .where(AuditEntry.forge == forge, AuditEntry.repo == repo, AuditEntry.number == number)
            .order_by(AuditEntry.at)
            .limit(500),
        )
        found = _scalars(
            conn,
            select(PostedFinding)
            .where(
                PostedFinding.forge == forge,
                PostedFinding.repo == repo,
                PostedFinding.number == number,
            )
            .order_by(PostedFinding.path, PostedFinding.line),
        )
    events: list[dict[str, Any]] = []
    for d in recent:
        if ids & set(d.job_ids or []):
            events.append(
                {
                    "at": _iso(d.received_at),
                    "what": "delivery",
                    "label": d.event,
                    "outcome": d.outcome,
                    "link": d.delivery_id,
                    "jobs": list(d.job_ids or []),
                }
            )
    for r in runs:
        events.append(
            {
                "at": _iso(r.started_at),
                "what": "job",
                "label": r.kind,
                "outcome": r.status,
                "link": r.job_id,
                "jobs": [r.job_id],
            }
        )
    for w in writes:
        events.append(
            {
                "at": _iso(w.at),
                "what": "forge write",
                "label": w.action,
                "outcome": w.outcome,
                "link": w.target,
                "jobs": [w.job_id] if w.job_id else [],
            }
        )
    events.sort(key=lambda e: e["at"] or "")
    dropped = [
        {"job_id": r.job_id, **{k: (r.detail or {}).get(k, 0) for k in _DROPPED}}
        for r in runs
        if r.kind == "review" and r.detail
    ]
    return {
        "forge": forge,
        "repo": repo,
        "number": number,
        "events": events,
        "jobs": [job_row(r) for r in runs],
        "findings": [
            {
                "path": x.path,
                "line": x.line,
                "severity": x.severity,
                "category": x.category,
                "title": x.title,
                "status": x.status,
                "comment_id": x.comment_id,
                "head_sha": x.head_sha,
            }
            for x in found
        ],
        "not_posted": dropped,
    }


_DROPPED = ("unplaced", "refused", "dropped_low_confidence", "outdated")


def repositories(engine: Engine, f: Filters, scope: Scope) -> list[dict[str, Any]]:
    """Every repository the bot has jobs for: reviews, failures, last index, findings."""
    is_review = JobRun.kind == "review"
    q = (
        select(
            JobRun.forge,
            JobRun.repo,
            func.count().label("jobs"),
            func.sum(func.cast(is_review, Integer)).label("reviews"),
            func.sum(func.cast(JobRun.status == "failed", Integer)).label("failed"),
            func.max(JobRun.finished_at).label("last_job_at"),
        )
        .where(JobRun.repo.is_not(None), scope.clause(JobRun.repo))
        .group_by(JobRun.forge, JobRun.repo)
        .order_by(JobRun.repo)
        .limit(500)
    )
    if f.forge:
        q = q.where(JobRun.forge == f.forge)
    if f.repo:
        q = q.where(JobRun.repo == f.repo)
    if f.since:
        q = q.where(JobRun.started_at >= f.since)
    if f.until:
        q = q.where(JobRun.started_at < f.until)
    findings_q = (
        select(
            PostedFinding.forge,
            PostedFinding.repo,
            PostedFinding.status,
            func.count().label("n"),
        )
        .where(scope.clause(PostedFinding.repo))
        .group_by(PostedFinding.forge, PostedFinding.repo, PostedFinding.status)
    )
    # acceptance per category, from the feedback on posted findings (bot/feedback/outcome.py)
    outcomes_q = (
        select(
            PostedFinding.forge,
            PostedFinding.repo,
            PostedFinding.category,
            PostedFinding.outcome,
            func.count().label("n"),
        )
        .where(PostedFinding.outcome.is_not(None), scope.clause(PostedFinding.repo))
        .group_by(
            PostedFinding.forge, PostedFinding.repo, PostedFinding.category, PostedFinding.outcome
        )
    )
    last_index = (
        select(JobRun.forge, JobRun.repo, func.max(JobRun.id).label("id"))
        .where(JobRun.kind == "index", JobRun.status == "done", scope.clause(JobRun.repo))
        .group_by(JobRun.forge, JobRun.repo)
    )
    if f.forge:
        last_index = last_index.where(JobRun.forge == f.forge)
    if f.repo:
        last_index = last_index.where(JobRun.repo == f.repo)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
        counts: dict[tuple[str, str], dict[str, int]] = {}
        for fr in conn.execute(findings_q):
            counts.setdefault((fr.forge, fr.repo), {})[fr.status] = int(fr.n)
        decided: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        for o in conn.execute(outcomes_q):
            per = decided.setdefault((o.forge, o.repo), {}).setdefault(o.category, {})
            per[o.outcome] = int(o.n)
        newest = {(r.forge, r.repo): r.id for r in conn.execute(last_index)}
        ids = [i for i in newest.values() if i is not None]
        index: dict[tuple[str | None, str | None], dict[str, Any]] = {}
        for chunk in range(0, len(ids), 500):
            for run in _scalars(
                conn, select(JobRun).where(JobRun.id.in_(ids[chunk : chunk + 500]))
            ):
                index[(run.forge, run.repo)] = dict(run.detail or {})
    out = []
    for r in rows:
        detail = index.get((r.forge, r.repo), {})
        out.append(
            {
                "forge": r.forge,
                "repo": r.repo,
                "jobs": int(r.jobs),
                "reviews": int(r.reviews or 0),
                "failed": int(r.failed or 0),
                "last_job_at": _iso(r.last_job_at),
                "indexed_commit": detail.get("commit"),
                "indexed_files": detail.get("files"),
                "indexed_chunks": detail.get("chunks"),
                "findings": counts.get((r.forge or "", r.repo or ""), {}),
                "acceptance": acceptance(decided.get((r.forge or "", r.repo or ""), {})),
            }
        )
    return out


def acceptance(by_category: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Per category: findings accepted of those decided (accepted, rejected or ignored),
    and the rate; categories by name."""
    out = []
    for category in sorted(by_category):
        counts = by_category[category]
        decided = sum(counts.values())
        accepted = counts.get("accepted", 0)
        out.append(
            {
                "category": category,
                "accepted": accepted,
                "rejected": counts.get("rejected", 0),
                "decided": decided,
                "rate": accepted / decided if decided else None,
            }
        )
    return out


def costs(engine: Engine, f: Filters, scope: Scope, *, by: str = "day") -> list[dict[str, Any]]:
    """Prompt/completion tokens and model seconds of finished jobs, per day, repository or
    job kind (``by``), from the usage each job recorded."""
    usage = JobRun.usage
    day = func.date(JobRun.finished_at)
    key: SQLColumnExpression[Any] = {"day": day, "repo": JobRun.repo, "kind": JobRun.kind}[by]
    q: Any = (
        select(
            key.label("key"),
            func.count().label("jobs"),
            func.coalesce(func.sum(usage["prompt_tokens"].as_integer()), 0).label("prompt"),
            func.coalesce(func.sum(usage["completion_tokens"].as_integer()), 0).label("completion"),
            func.coalesce(func.sum(usage["latency_s"].as_float()), 0.0).label("seconds"),
        )
        .where(JobRun.finished_at.is_not(None), scope.clause(JobRun.repo))
        .group_by(key)
        .order_by(key)
        .limit(400)
    )
    if f.forge:
        q = q.where(JobRun.forge == f.forge)
    if f.repo:
        q = q.where(JobRun.repo == f.repo)
    if f.kind:
        q = q.where(JobRun.kind == f.kind)
    if f.since:
        q = q.where(JobRun.finished_at >= f.since)
    if f.until:
        q = q.where(JobRun.finished_at < f.until)
    with engine.connect() as conn:
        return [
            {
                "key": str(r.key) if r.key is not None else "",
                "jobs": int(r.jobs),
                "prompt_tokens": int(r.prompt or 0),
                "completion_tokens": int(r.completion or 0),
                "model_seconds": round(float(r.seconds or 0.0), 3),
            }
            for r in conn.execute(q)
        ]


def distinct_values(engine: Engine, scope: Scope) -> dict[str, Sequence[str]]:
    """Choices for the filter forms: repositories in scope and job kinds."""
    with engine.connect() as conn:
        repos = conn.execute(
            select(JobRun.repo)
            .where(JobRun.repo.is_not(None), scope.clause(JobRun.repo))
            .group_by(JobRun.repo)
            .order_by(JobRun.repo)
            .limit(500)
        ).scalars()
        kinds = conn.execute(select(JobRun.kind).group_by(JobRun.kind).limit(50)).scalars().all()
        return {"repos": [r for r in repos if r], "kinds": sorted(k for k in kinds if k)}
