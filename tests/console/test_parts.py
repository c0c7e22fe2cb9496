"""The console's pure parts and its queries against PostgreSQL: scopes (repository
allow-lists), roles from claims, redaction, the SVG chart, safe redirects."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.console import queries
from bot.console.auth import role_from_claims, safe_next, same_token, scope_for
from bot.console.chart import bar_chart
from bot.console.health import _public_url
from bot.db.engine import upgrade
from bot.db.models import JobRun
from bot.settings import Settings, SettingsError, validate_for_console


def test_roles_come_from_the_configured_claim() -> None:
    settings = Settings(console_role_claim="groups", console_operator_roles=["sre"])
    assert role_from_claims({"groups": ["dev", "sre"]}, settings) == "operator"
    assert role_from_claims({"groups": "viewer"}, settings) == "viewer"
    assert role_from_claims({"groups": "dev,viewer"}, settings) == "viewer"
    assert role_from_claims({"groups": ["dev"]}, settings) is None
    assert role_from_claims({"roles": ["sre"]}, settings) is None  # another claim
    assert role_from_claims({"groups": {"sre": True}}, settings) is None


def test_redirects_after_sign_in_stay_local() -> None:
    assert safe_next("/jobs?status=failed") == "/jobs?status=failed"
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "jobs"):
        assert safe_next(target) == "/"


def test_csrf_comparison() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd")
    assert not same_token("", "")
    assert not same_token(None, "abc")


def test_secrets_are_redacted_from_shown_text() -> None:
    text = (
        "clone https://x-access-token:ghs_abcdefghijklmnopqrstuvwxyz@github.com/o/r failed; "
        "token glpat-abcdefghijklmnopqrst; Authorization: Bearer abcdefghijklmnopqrstuvwxyz"
    )
    shown = queries.redact(text)
    assert "ghs_" not in shown
    assert "glpat-" not in shown
    assert "abcdefghijklmnopqrstuvwxyz" not in shown
    assert "github.com/o/r failed" in shown
    assert _public_url("https://user:pw@model.internal:8000/v1") == "https://model.internal:8000/v1"


def test_chart_escapes_labels_and_scales_to_the_largest_bar() -> None:
    svg = bar_chart(
        "Tokens <per day>", ["<script>", "b"], [("prompt", [10, 40]), ("done", [0, 10])]
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'role="img"' in svg
    assert '<title id="chart-title">Tokens &lt;per day&gt;' in svg
    assert svg.count("<rect") == 4 + 2  # four bars, two legend keys
    assert bar_chart("empty", [], []).startswith("<svg")


def test_console_refuses_to_start_half_configured() -> None:
    with pytest.raises(SettingsError, match="SESSION_SECRET is not set"):
        validate_for_console(Settings())
    with pytest.raises(SettingsError, match="placeholder"):
        validate_for_console(Settings(console_session_secret="changeme"))
    with pytest.raises(SettingsError, match="OIDC_ISSUER"):
        validate_for_console(Settings(console_session_secret="x" * 32))


def test_scopes_limit_every_query(console_db: sa.Engine) -> None:
    tag = uuid.uuid4().hex[:6]
    now = dt.datetime.now(dt.UTC)
    repos = [f"acme-{tag}/api", f"acme-{tag}/web", f"other-{tag}/api", f"ac_e-{tag}/x"]
    with console_db.begin() as conn:
        for i, repo in enumerate(repos):
            conn.execute(
                sa.insert(JobRun).values(
                    job_id=f"index-{tag}-{i}",
                    kind="index",
                    forge="gitlab",
                    repo=repo,
                    status="done",
                    attempts=1,
                    error="",
                    usage={},
                    detail={"commit": "c" * 40, "files": 3, "chunks": 9},
                    started_at=now,
                    finished_at=now,
                )
            )
    mine = queries.Scope((f"acme-{tag}/*",))
    rows = queries.jobs(console_db, queries.Filters(forge="gitlab"), mine)
    assert {r["repo"] for r in rows if tag in r["repo"]} == {f"acme-{tag}/api", f"acme-{tag}/web"}
    assert queries.jobs(console_db, queries.Filters(), queries.Scope(())) == []
    exact = queries.Scope((f"other-{tag}/api",))
    assert [r["repo"] for r in queries.repositories(console_db, queries.Filters(), exact)] == [
        f"other-{tag}/api"
    ]
    assert queries.repositories(console_db, queries.Filters(), exact)[0]["indexed_chunks"] == 9
    assert queries.job(console_db, f"index-{tag}-2", mine) is None
    assert queries.change(console_db, "gitlab", f"other-{tag}/api", 1, mine) is None
    # `_` in a pattern is literal, not SQL's one-character wildcard.
    literal = queries.Scope((f"ac_e-{tag}/*",))
    assert {r["repo"] for r in queries.jobs(console_db, queries.Filters(), literal)} == {
        f"ac_e-{tag}/x"
    }
    settings = Settings(console_viewer_repos=[f"acme-{tag}/web"], console_operator_repos=["*"])
    assert scope_for(settings, "viewer").patterns == (f"acme-{tag}/web",)
    assert scope_for(settings, "operator").allows(None)
    assert not scope_for(settings, "viewer").allows(None)


def test_every_page_query_runs_on_sqlite(tmp_path: Path) -> None:
    """`make run` uses SQLite: the same queries answer there too."""
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(JobRun).values(
                job_id="review-1",
                kind="review",
                forge="github",
                repo="o/r",
                number=1,
                status="done",
                attempts=1,
                error="",
                detail={"unplaced": 2},
                usage={"prompt_tokens": 10, "completion_tokens": 5, "latency_s": 1.5},
                started_at=now,
                finished_at=now,
            )
        )
    everything = queries.Scope(("*",))
    f = queries.Filters(since=now - dt.timedelta(days=1))
    assert queries.jobs(engine, f, everything)[0]["job_id"] == "review-1"
    assert queries.deliveries(engine, f, everything) == []
    assert queries.repositories(engine, queries.Filters(), everything)[0]["reviews"] == 1
    assert queries.change(engine, "github", "o/r", 1, everything)["not_posted"][0]["unplaced"] == 2
    (day,) = queries.costs(engine, f, everything)
    assert (day["prompt_tokens"], day["completion_tokens"], day["model_seconds"]) == (10, 5, 1.5)
    assert queries.distinct_values(engine, everything)["kinds"] == ["review"]
    engine.dispose()
