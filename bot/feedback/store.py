"""Feedback and rules in PostgreSQL (SQLite in some tests): signals per finding, each
finding's outcome kept up to date, per-repository history and rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import FindingFeedback, PostedFinding, RepoRule
from bot.feedback.outcome import REPLY_CHARS, Kind, Signal, outcome
from bot.review.guidance import Rule
from bot.review.memory import ChangeKey
from bot.review.thresholds import History

MAX_RULES = 20
MAX_RULE_CHARS = 500


@dataclass(frozen=True, slots=True)
class Observed:
    """One signal about the finding ``fingerprint``; ``key`` makes it idempotent."""

    fingerprint: str
    kind: Kind
    key: str
    value: str = ""
    actor: str = ""
    can_write: bool | None = None


@dataclass(frozen=True, slots=True)
class StatsRow:
    forge: str
    repo: str
    category: str
    severity: str
    accepted: int
    rejected: int
    ignored: int
    undecided: int

    @property
    def precision(self) -> float | None:
        decided = self.accepted + self.rejected
        return self.accepted / decided if decided else None


class RuleError(ValueError):
    """A rule that cannot be stored (too long, too many); the message says why."""


def _change(model: type[PostedFinding] | type[FindingFeedback], change: ChangeKey):  # type: ignore[no-untyped-def]
    return and_(
        model.forge == change.forge, model.repo == change.repo, model.number == change.number
    )


class SqlFeedback:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- findings of a change --------------------------------------------------------------

    def fingerprint_of_comment(self, change: ChangeKey, comment_id: int) -> str | None:
        with Session(self._engine) as session:
            return session.scalar(
                select(PostedFinding.fingerprint)
                .where(_change(PostedFinding, change))
                .where(PostedFinding.comment_id == comment_id)
            )

    def known(self, change: ChangeKey) -> dict[str, str]:
        """fingerprint -> category of the change's findings we posted."""
        with Session(self._engine) as session:
            rows = session.execute(
                select(PostedFinding.fingerprint, PostedFinding.category).where(
                    _change(PostedFinding, change)
                )
            )
            return {row[0]: row[1] for row in rows}

    def outcomes(self, change: ChangeKey) -> dict[str, str | None]:
        with Session(self._engine) as session:
            rows = session.execute(
                select(PostedFinding.fingerprint, PostedFinding.outcome).where(
                    _change(PostedFinding, change)
                )
            )
            return {row[0]: row[1] for row in rows}

    # --- signals ---------------------------------------------------------------------------

    def record(self, change: ChangeKey, observed: Iterable[Observed], *, source: str) -> int:
        """Store new signals (those seen before are skipped) and update the outcomes of the
        findings they are about; returns how many were new. Signals about a finding this
        change never posted are dropped."""
        items = list(observed)
        if not items:
            return 0
        known = self.known(change)
        added = 0
        touched: set[str] = set()
        with Session(self._engine) as session:
            for o in items:
                if o.fingerprint not in known:
                    continue
                row = FindingFeedback(
                    forge=change.forge,
                    repo=change.repo,
                    number=change.number,
                    fingerprint=o.fingerprint,
                    kind=o.kind.value,
                    value=o.value[:REPLY_CHARS],
                    key=o.key[:256],
                    actor=o.actor[:256],
                    can_write=o.can_write,
                    source=source,
                )
                try:
                    with session.begin_nested():
                        session.add(row)
                except IntegrityError:
                    continue  # seen before: a redelivery or a second harvest
                added += 1
                touched.add(o.fingerprint)
            session.commit()
        self.refresh(change, touched)
        return added

    def refresh(self, change: ChangeKey, fingerprints: Iterable[str]) -> None:
        """Recompute the outcome of these findings from their signals."""
        keys = list(fingerprints)
        if not keys:
            return
        with Session(self._engine) as session, session.begin():
            signals: dict[str, list[Signal]] = {k: [] for k in keys}
            for row in session.scalars(
                select(FindingFeedback)
                .where(_change(FindingFeedback, change))
                .where(FindingFeedback.fingerprint.in_(keys))
            ):
                signals[row.fingerprint].append(
                    Signal(Kind(row.kind), row.value, row.actor, row.id)
                )
            for finding in session.scalars(
                select(PostedFinding)
                .where(_change(PostedFinding, change))
                .where(PostedFinding.fingerprint.in_(keys))
            ):
                decided = outcome(signals.get(finding.fingerprint, []))
                finding.outcome = decided.value if decided else None

    def signals(self, change: ChangeKey) -> list[tuple[str, str, str, str]]:
        """(fingerprint, kind, value, actor) of the change, oldest first."""
        with Session(self._engine) as session:
            rows = session.execute(
                select(
                    FindingFeedback.fingerprint,
                    FindingFeedback.kind,
                    FindingFeedback.value,
                    FindingFeedback.actor,
                )
                .where(_change(FindingFeedback, change))
                .order_by(FindingFeedback.id)
            )
            return [(a, b, c, d) for a, b, c, d in rows]

    # --- history ---------------------------------------------------------------------------

    def history(self, forge: str, repo: str) -> dict[str, History]:
        """category -> outcomes of this repository's findings."""
        out: dict[str, dict[str, int]] = {}
        for row in self.stats(forge=forge, repo=repo):
            counts = out.setdefault(row.category, {"accepted": 0, "rejected": 0, "ignored": 0})
            counts["accepted"] += row.accepted
            counts["rejected"] += row.rejected
            counts["ignored"] += row.ignored
        return {cat: History(**counts) for cat, counts in out.items()}

    def stats(
        self,
        *,
        forge: str | None = None,
        repo: str | None = None,
        since: dt.datetime | None = None,
    ) -> list[StatsRow]:
        """Outcomes per repository, category and severity."""
        query = select(
            PostedFinding.forge,
            PostedFinding.repo,
            PostedFinding.category,
            PostedFinding.severity,
            PostedFinding.outcome,
            func.count(),
        ).where(PostedFinding.status != "summary")
        if forge is not None:
            query = query.where(PostedFinding.forge == forge)
        if repo is not None:
            query = query.where(PostedFinding.repo == repo)
        if since is not None:
            query = query.where(PostedFinding.created_at >= since)
        query = query.group_by(
            PostedFinding.forge,
            PostedFinding.repo,
            PostedFinding.category,
            PostedFinding.severity,
            PostedFinding.outcome,
        )
        table: dict[tuple[str, str, str, str], dict[str, int]] = {}
        with Session(self._engine) as session:
            for f, r, cat, sev, out, count in session.execute(query):
                counts = table.setdefault((f, r, cat, sev), {})
                counts[out or "undecided"] = counts.get(out or "undecided", 0) + int(count)
        return [
            StatsRow(
                f,
                r,
                cat,
                sev,
                c.get("accepted", 0),
                c.get("rejected", 0),
                c.get("ignored", 0),
                c.get("undecided", 0),
            )
            for (f, r, cat, sev), c in sorted(table.items())
        ]

    def outcome_counts(self) -> list[tuple[str, str, str, str, int]]:
        """(forge, repo, category, outcome, findings) for the decided findings: the
        Prometheus counters of accepted / rejected / ignored findings."""
        query = (
            select(
                PostedFinding.forge,
                PostedFinding.repo,
                PostedFinding.category,
                PostedFinding.outcome,
                func.count(),
            )
            .where(PostedFinding.outcome.is_not(None))
            .group_by(
                PostedFinding.forge,
                PostedFinding.repo,
                PostedFinding.category,
                PostedFinding.outcome,
            )
        )
        with Session(self._engine) as session:
            return [(f, r, c, str(o), int(n)) for f, r, c, o, n in session.execute(query)]

    # --- rules -----------------------------------------------------------------------------

    def rules(self, forge: str, repo: str) -> list[Rule]:
        with Session(self._engine) as session:
            rows = session.scalars(
                select(RepoRule)
                .where(RepoRule.forge == forge, RepoRule.repo == repo)
                .order_by(RepoRule.id)
            )
            return [Rule(r.id, r.text, r.author) for r in rows]

    def remember(self, forge: str, repo: str, text: str, *, author: str, source: str) -> Rule:
        """Store a rule; the same command comment twice stores it once."""
        text = text.strip()
        if not text:
            raise RuleError("a rule needs text: `/assist remember <rule>`")
        if len(text) > MAX_RULE_CHARS:
            raise RuleError(f"a rule is at most {MAX_RULE_CHARS} characters ({len(text)} given)")
        with Session(self._engine) as session, session.begin():
            existing = session.scalar(
                select(RepoRule).where(
                    RepoRule.forge == forge,
                    RepoRule.repo == repo,
                    RepoRule.source_comment == source,
                )
            )
            if existing is not None:
                return Rule(existing.id, existing.text, existing.author)
            count = session.scalar(
                select(func.count()).where(RepoRule.forge == forge, RepoRule.repo == repo)
            )
            if (count or 0) >= MAX_RULES:
                raise RuleError(
                    f"this repository has {MAX_RULES} rules already; `/assist forget <id>` one"
                )
            row = RepoRule(forge=forge, repo=repo, text=text, author=author, source_comment=source)
            session.add(row)
            session.flush()
            return Rule(row.id, row.text, row.author)

    def forget(self, forge: str, repo: str, rule_id: int) -> bool:
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                delete(RepoRule).where(
                    RepoRule.forge == forge, RepoRule.repo == repo, RepoRule.id == rule_id
                )
            )
            return bool(getattr(result, "rowcount", 0))
