"""`assist action review` with the corpus' event payloads against the test forge and the
scripted model: what the pull request, the job summary, the outputs, the annotations and the
SARIF file get, for own and fork pull requests, and when the job fails."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from bot.action.context import Job, github_job
from bot.action.report import parse_fail_on
from bot.action.run import (
    ReviewOptions,
    RunnerFiles,
    ci_forge,
    policy,
    read_job,
    review,
    token_is_read_only,
)
from bot.intake.events import CommandName
from bot.settings import Settings
from tests.actions.conftest import GitHubWorld, answer, example, finding, scores
from tests.conftest import CORPORA
from tests.support.webhooks import github_examples

REVIEWED = {"opened", "reopened", "synchronize", "ready_for_review"}


def run_review(
    world: GitHubWorld,
    job_env: dict[str, str],
    settings: Settings,
    *,
    fail_on: str = "none",
    annotate: str = "auto",
    sarif: Path | None = None,
) -> tuple[int, str, Job]:
    job = read_job("github", job_env, settings)
    out = io.StringIO()
    status = review(
        settings,
        ci_forge(settings, "github"),
        job,
        ReviewOptions(parse_fail_on(fail_on), annotate, sarif),  # type: ignore[arg-type]
        RunnerFiles.from_env(job_env),
        read_only=token_is_read_only("github", job_env, job),
        out=out,
    )
    return status, out.getvalue(), job


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        pytest.param(name, payload, id=f"{name}.{payload.get('action')}.{i}")
        for i, (name, payload) in enumerate(github_examples(CORPORA))
        if name in ("pull_request", "issue_comment")
    ],
)
def test_every_corpus_event_becomes_a_job_or_a_reason(
    event: str, payload: dict[str, Any], github_settings: Settings
) -> None:
    env = {"GITHUB_EVENT_NAME": event, "GITHUB_REPOSITORY": payload["repository"]["full_name"]}
    job = github_job(env, payload, policy(github_settings))
    if (
        event == "pull_request"
        and payload["action"] in REVIEWED
        and not payload["pull_request"]["draft"]
    ):
        assert (job.number, job.command) == (payload["pull_request"]["number"], CommandName.REVIEW)
        assert job.default_branch == payload["repository"]["default_branch"]
        assert job.fork is False
    else:  # other actions, drafts, comments without a command
        assert job.number is None
        assert job.ignored


@pytest.fixture
def github_settings() -> Settings:
    return Settings.model_validate({"bot_logins": ["github-actions[bot]"]})


@pytest.mark.parametrize("event_name", ["pull_request", "pull_request_target"])
def test_a_pull_request_is_reviewed_and_posted(
    github: GitHubWorld, corpora: Path, tmp_path: Path, event_name: str
) -> None:
    github.llm.push(answer(finding()), scores(0.9))
    job = github.job(event_name, example(corpora, "pull_request", "opened"))
    sarif = tmp_path / "out.sarif"
    status, stdout, _ = run_review(github, job.env, github.settings(), sarif=sarif)
    assert status == 0
    (comment,) = github.inline()
    assert (comment["path"], comment["line"]) == ("shop.py", 4)
    assert any("Skips the first item" in c["body"] for c in github.conversation())
    outputs = job.outputs()
    assert outputs | {"sarif": ""} == {
        "critical": "0", "major": "1", "minor": "0", "info": "0", "findings": "1",
        "posted": "true", "failing": "0", "sarif": "",
    }  # fmt: skip
    assert outputs["sarif"] == str(sarif)
    assert "::error" not in stdout
    assert "::warning" not in stdout
    text = job.summary.read_text()
    assert "| 0 | 1 | 0 | 0 |" in text
    assert "Posted on the pull request" in text
    assert "<!--" not in text
    (result,) = json.loads(sarif.read_text())["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4


def test_a_rerun_posts_nothing_twice(github: GitHubWorld, corpora: Path) -> None:
    payload = example(corpora, "pull_request", "synchronize")
    for _ in range(2):
        github.llm.push(answer(finding()), scores(0.9))
        status, _, _ = run_review(
            github, github.job("pull_request", payload).env, github.settings()
        )
        assert status == 0
    assert len(github.inline()) == 1
    summaries = [c for c in github.conversation() if "forge-assist:summary" in c["body"]]
    assert len(summaries) == 1  # edited in place


def test_a_fork_pull_request_reports_through_annotations_and_sarif(
    github: GitHubWorld, corpora: Path, tmp_path: Path
) -> None:
    payload = example(corpora, "pull_request", "opened")
    payload["pull_request"]["head"]["repo"]["full_name"] = "forker/Hello-World"
    github.llm.push(answer(finding(), finding(
        quoted_code="result += items[i].price", line=5, severity="minor",
        category="style", title="Index, then attribute: 50%, ok?",
    )), scores(0.9, 0.8))  # fmt: skip
    job = github.job("pull_request", payload)
    sarif = tmp_path / "fork.sarif"
    status, stdout, parsed = run_review(
        github, job.env, github.settings(read_only=True), sarif=sarif, fail_on="major"
    )
    assert parsed.fork
    assert github.inline() == []
    assert github.conversation() == []
    assert github.server.requests_log()
    assert all(r["method"] == "GET" for r in github.server.requests_log())
    lines = stdout.splitlines()
    assert (
        "::error file=shop.py,line=4,endLine=4,title=[major/bug] Skips the first item"
        "::range(1, ...) starts at the second item.%0AUse range(len(items))."
    ) in lines
    assert (
        "::warning file=shop.py,line=5,endLine=5,"
        "title=[minor/style] Index%2C then attribute%3A 50%25%2C ok?::"
    ) in "\n".join(lines)
    assert "::error::Forge Assist: 1 finding(s) at or above major" in lines
    assert status == 1
    outputs = job.outputs()
    assert (outputs["posted"], outputs["major"], outputs["minor"], outputs["failing"]) == (
        "false", "1", "1", "1",
    )  # fmt: skip
    assert "read-only" in job.summary.read_text()
    assert len(json.loads(sarif.read_text())["runs"][0]["results"]) == 2


def test_a_token_that_may_not_post_falls_back_to_annotations(
    github: GitHubWorld, corpora: Path
) -> None:
    """Not a fork, but the workflow gave the token no pull-requests: write."""
    github.llm.push(answer(finding()), scores(0.9), answer(finding()), scores(0.9))
    job = github.job("pull_request", example(corpora, "pull_request", "opened"))
    status, stdout, _ = run_review(github, job.env, github.settings(read_only=True))
    assert status == 0
    assert "::error file=shop.py,line=4" in stdout
    assert job.outputs()["posted"] == "false"
    assert "may not post" in job.summary.read_text()
    assert github.inline() == []


@pytest.mark.parametrize(
    ("fail_on", "status"), [("none", 0), ("critical", 0), ("major", 1), ("info", 1)]
)
def test_fail_on_a_severity(github: GitHubWorld, corpora: Path, fail_on: str, status: int) -> None:
    github.llm.push(answer(finding()), scores(0.9))
    job = github.job("pull_request", example(corpora, "pull_request", "reopened"))
    assert run_review(github, job.env, github.settings(), fail_on=fail_on)[0] == status
    assert job.outputs()["failing"] == str(status)


def test_a_review_command_in_a_comment(github: GitHubWorld, corpora: Path) -> None:
    payload = example(corpora, "issue_comment", "created")
    payload["issue"]["number"] = github.number
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/x/y/pulls/2"}
    payload["comment"]["body"] = "Looks odd.\n/assist review"
    github.llm.push(answer(finding()), scores(0.9))
    job = github.job("issue_comment", payload)
    status, _, parsed = run_review(github, job.env, github.settings())
    assert (status, parsed.command, parsed.number) == (0, CommandName.REVIEW, github.number)
    assert len(github.inline()) == 1


@pytest.mark.parametrize("action", ["closed", "labeled", "converted_to_draft"])
def test_events_with_nothing_to_review(github: GitHubWorld, corpora: Path, action: str) -> None:
    job = github.job("pull_request", example(corpora, "pull_request", action))
    status, stdout, _ = run_review(github, job.env, github.settings())
    assert status == 0
    assert stdout.startswith("::notice::Forge Assist: nothing to review")
    assert job.outputs()["findings"] == "0"
    assert github.llm.chat_requests() == []
    assert github.inline() == []
