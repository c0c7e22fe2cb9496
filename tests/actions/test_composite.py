"""actions/review/action.yml run as the runner runs a composite action: its bash steps with
the inputs, `$GITHUB_OUTPUT` and the action's outputs, against the test forge and the
scripted model (the install step is this virtual environment)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.actions.conftest import GitHubWorld, answer, example, finding, scores
from tests.actions.runner import run_composite
from tests.deploy.conftest import ROOT

REVIEW = ROOT / "actions" / "review" / "action.yml"


def job_env(world: GitHubWorld, env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": env["RUNNER_TEMP"],
        # What the runner's environment holds besides the action's inputs.
        "ASSIST_GITHUB_WRITE_PAUSE_S": "0",
        "ASSIST_LLM_MAX_RETRIES": "0",
        "ASSIST_BOT_LOGINS": "github-actions[bot]",
    }


def run(world: GitHubWorld, payload: dict[str, object], **inputs: str) -> tuple[object, object]:
    job = world.job("pull_request", payload)
    result = run_composite(
        REVIEW,
        inputs={"token": world.token, **inputs},
        github={"api_url": world.server.github_api_url, "token": "unused-default"},
        env=job_env(world, job.env),
        workspace=job.directory,
        runner_temp=job.directory,
        given={"install": {"python": sys.executable}},
    )
    return result, job


def test_the_action_reviews_posts_and_sets_its_outputs(github: GitHubWorld, corpora: Path) -> None:
    github.llm.push(answer(finding()), scores(0.9))
    result, job = run(
        github,
        example(corpora, "pull_request", "opened"),
        **{"llm-base-url": github.llm.base_url, "model": "scripted", "context-tokens": "16000"},
    )
    assert result.failed_step is None, result.stderr  # type: ignore[attr-defined]
    assert result.outputs == {  # type: ignore[attr-defined]
        "findings": "1", "critical": "0", "major": "1", "minor": "0", "info": "0",
        "posted": "true", "sarif": "forge-assist.sarif",
    }  # fmt: skip
    assert (job.directory / "forge-assist.sarif").is_file()  # type: ignore[attr-defined]
    assert len(github.inline()) == 1
    # The model got the inputs: the served name and the bearer token left unset.
    (request, *_) = [r for r in github.llm.requests if r.path.endswith("/chat/completions")]
    assert request.body["model"] == "scripted"
    assert "authorization" not in {k.lower() for k in request.headers}


def test_fail_on_fails_the_last_step_after_the_outputs_are_set(
    github: GitHubWorld, corpora: Path
) -> None:
    github.llm.push(answer(finding()), scores(0.9))
    result, _ = run(
        github,
        example(corpora, "pull_request", "opened"),
        **{"llm-base-url": github.llm.base_url, "model": "scripted", "context-tokens": "16000",
           "fail-on": "minor", "sarif": ""},
    )  # fmt: skip
    assert result.failed_step == "step3"  # type: ignore[attr-defined]
    assert result.outputs["major"] == "1"  # type: ignore[attr-defined]
    assert result.outputs["sarif"] == ""  # type: ignore[attr-defined]
    assert "exited with status 1" in result.stdout  # type: ignore[attr-defined]


def test_without_a_model_url_a_fork_run_is_skipped_not_failed(
    github: GitHubWorld, corpora: Path
) -> None:
    """A fork's pull_request run gets no secrets: the llm-base-url input is empty."""
    result, _ = run(github, example(corpora, "pull_request", "opened"))
    assert result.failed_step is None  # type: ignore[attr-defined]
    assert result.outputs["findings"] == "0"  # type: ignore[attr-defined]
    assert result.outputs["posted"] == "false"  # type: ignore[attr-defined]
    assert "::notice::Forge Assist: no llm-base-url" in result.stdout  # type: ignore[attr-defined]
    assert github.llm.chat_requests() == []
