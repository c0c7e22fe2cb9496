"""The feedback store on PostgreSQL: idempotent signals, outcomes kept up to date, rules
capped, stats for `assist feedback stats` and the Prometheus counters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli import app
from bot.db.engine import make_engine, upgrade
from bot.feedback.outcome import Kind
from bot.feedback.store import MAX_RULE_CHARS, MAX_RULES, Observed, RuleError, SqlFeedback
from bot.review.memory import ChangeKey, Remembered, SqlMemory
from bot.web.metrics import IntakeMetrics

CHANGE = ChangeKey("gitlab", "lab/shop", 4)


def remembered(fp: str, category: str, severity: str = "minor") -> Remembered:
    return Remembered(fp, "a.py", 3, None, severity, category, "t", "x = 1", "0" * 40, 7, "posted")


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    upgrade(pg_url)
    eng = make_engine(pg_url)
    with eng.begin() as conn:
        for table in ("findings", "finding_feedback", "repo_rules"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    yield eng
    eng.dispose()


def test_signals_are_idempotent_and_decide_the_outcome(engine: sa.Engine) -> None:
    SqlMemory(engine).remember(CHANGE, [remembered("a" * 64, "style"), remembered("b" * 64, "bug")])
    store = SqlFeedback(engine)
    down = Observed("a" * 64, Kind.REACTION, "reaction:bob:-1", "-1", "bob", False)
    assert store.record(CHANGE, [down], source="webhook") == 1
    assert store.record(CHANGE, [down], source="harvest") == 0  # the same reaction again
    unknown = Observed("c" * 64, Kind.REACTION, "reaction:bob:+1", "+1", "bob")
    assert store.record(CHANGE, [unknown], source="webhook") == 0  # not a finding of ours
    store.record(CHANGE, [Observed("b" * 64, Kind.APPLIED, "applied")], source="review")
    assert store.outcomes(CHANGE) == {"a" * 64: "rejected", "b" * 64: "accepted"}
    # a 👎 from someone without write access counts for the stats
    assert store.history("gitlab", "lab/shop")["style"].rejected == 1
    assert sorted(store.outcome_counts()) == [
        ("gitlab", "lab/shop", "bug", "accepted", 1),
        ("gitlab", "lab/shop", "style", "rejected", 1),
    ]
    metrics = IntakeMetrics(lambda: {}, outcomes=store.outcome_counts).expose().decode()
    assert (
        'assist_findings_outcome_total{category="style",forge="gitlab",outcome="rejected",'
        'repo="lab/shop"} 1.0' in metrics
    )


def test_rules_are_capped_and_redelivery_stores_one(engine: sa.Engine) -> None:
    store = SqlFeedback(engine)
    first = store.remember("github", "o/r", "Use assert in tests.", author="m", source="11")
    assert store.remember("github", "o/r", "Use assert in tests.", author="m", source="11") == first
    with pytest.raises(RuleError, match="at most"):
        store.remember("github", "o/r", "x" * (MAX_RULE_CHARS + 1), author="m", source="12")
    for i in range(MAX_RULES - 1):
        store.remember("github", "o/r", f"rule {i}", author="m", source=f"c{i}")
    with pytest.raises(RuleError, match="rules already"):
        store.remember("github", "o/r", "one too many", author="m", source="99")
    assert store.forget("github", "o/r", first.id)
    assert not store.forget("github", "o/r", first.id)
    assert not store.forget("gitlab", "o/r", store.rules("github", "o/r")[0].id)  # other repo


def test_feedback_stats_command(engine: sa.Engine, pg_url: str) -> None:
    SqlMemory(engine).remember(
        CHANGE, [remembered("a" * 64, "style"), remembered("d" * 64, "style")]
    )
    store = SqlFeedback(engine)
    store.record(CHANGE, [Observed("a" * 64, Kind.REACTION, "r", "+1", "bob")], source="t")
    store.record(CHANGE, [Observed("d" * 64, Kind.REACTION, "r", "-1", "bob")], source="t")
    result = CliRunner().invoke(
        app, ["feedback", "stats", "--repo", "lab/shop"], env={"ASSIST_DATABASE_URL": pg_url}
    )
    assert result.exit_code == 0, result.output
    assert "gitlab\tlab/shop\tstyle\tminor\t1\t1\t0\t0\t0.50" in result.output
