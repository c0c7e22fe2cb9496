"""The GitLab CI template's command with the pipelines of the corpus against the test forge's
GitLab API, and the fix action's entry point with the corpus' issue_comment payload."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.action.run import ReviewOptions, RunnerFiles, ci_forge, fix, read_job, review
from bot.intake.events import CommandName
from tests.actions.conftest import (
    GitHubWorld,
    GitLabWorld,
    answer,
    example,
    finding,
    gitlab_pipeline_env,
    scores,
)
from tests.conftest import CORPORA

PIPELINES = [name for name, _ in gitlab_pipeline_env(CORPORA, "")]


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_a_merge_request_pipeline_is_reviewed_and_reported(
    gitlab: GitLabWorld, corpora: Path, tmp_path: Path, pipeline: str
) -> None:
    env = dict(gitlab_pipeline_env(corpora, gitlab.server.gitlab_url))[pipeline]
    gitlab.llm.push(answer(finding()), scores(0.9))
    settings = gitlab.settings()
    job = read_job("gitlab", env, settings)
    assert (job.number, job.command, job.fork) == (1, CommandName.REVIEW, False)
    report = tmp_path / "gl-code-quality-report.json"
    out = io.StringIO()
    options = ReviewOptions("major", "never", tmp_path / "forge-assist.sarif", report)
    status = review(
        settings, ci_forge(settings, "gitlab"), job, options, RunnerFiles(), read_only=False,
        out=out,
    )  # fmt: skip
    assert status == 1  # a major finding, fail-on major
    notes = [n for d in gitlab.server.discussions("gitlab-org/gitlab-test", 1) for n in d["notes"]]
    assert any(n.get("position") and n["position"]["new_line"] == 4 for n in notes)
    assert any("forge-assist:summary" in n["body"] for n in notes)
    (issue,) = json.loads(report.read_text())
    assert issue["severity"] == "major"
    assert issue["location"] == {"path": "shop.py", "lines": {"begin": 4, "end": 4}}
    assert issue["check_name"] == "forge-assist/bug"
    assert len(issue["fingerprint"]) >= 16
    assert "shop.py:4: [major/bug] Skips the first item" in out.getvalue()
    assert "::" not in out.getvalue()  # no GitHub workflow commands on GitLab


def test_a_branch_pipeline_has_nothing_to_review(gitlab: GitLabWorld, corpora: Path) -> None:
    env = dict(gitlab_pipeline_env(corpora, gitlab.server.gitlab_url))[PIPELINES[0]]
    env |= {"CI_PIPELINE_SOURCE": "push"}
    del env["CI_MERGE_REQUEST_IID"]
    job = read_job("gitlab", env, gitlab.settings())
    assert job.number is None
    assert "not a merge request pipeline" in (job.ignored or "")


def test_fix_runs_the_fix_job_for_an_issue_comment(
    github: GitHubWorld, corpora: Path, tmp_path: Path
) -> None:
    payload = example(corpora, "issue_comment", "created")
    payload["comment"]["body"] = "/assist fix use the price of every item"
    job_env = github.job("issue_comment", payload).env
    settings = github.settings()
    job = read_job("github", job_env, settings)
    assert (job.command, job.number, job.argument) == (
        CommandName.FIX, github.issue, "use the price of every item",
    )  # fmt: skip
    out = io.StringIO()
    detail = fix(settings, job, state_dir=tmp_path / "state", out=out)
    assert detail.get("status") != "ignored"
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state' / 'assist.db'}")
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT kind, repo, number, status FROM job_runs")).all()
    engine.dispose()
    assert [tuple(r) for r in runs] == [("fix", "Codertocat/Hello-World", 1, "done")]


def test_fix_ignores_other_comments(github: GitHubWorld, corpora: Path, tmp_path: Path) -> None:
    job_env = github.job("issue_comment", example(corpora, "issue_comment", "created")).env
    job = read_job("github", job_env, github.settings())
    out = io.StringIO()
    assert fix(github.settings(), job, state_dir=tmp_path, out=out)["status"] == "ignored"
    assert out.getvalue().startswith("::notice::Forge Assist: nothing to fix")
    assert not (tmp_path / "assist.db").exists()
