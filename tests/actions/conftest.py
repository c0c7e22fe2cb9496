"""A repository on the test forge shaped like the corpus' example events (GitHub's
Codertocat/Hello-World with pull request #2 and issue #1; GitLab's gitlab-org/gitlab-test with
merge request !1), the scripted model, and the runner's environment for one job."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from tests.llm.scripted_server import Reply, ScriptedServer, chat_reply
from tests.support.webhooks import github_examples
from tests.testforge import TestForge

GITHUB_REPO = "Codertocat/Hello-World"
GITLAB_REPO = "gitlab-org/gitlab-test"
ACTIONS_BOT = "github-actions[bot]"
GITLAB_BOT = "project_1_bot_0123abcd"
BASE = '''def total(items):
    """Sum the prices of items."""
    result = 0
    for item in items:
        result += item.price
    return result
'''
HEAD = BASE.replace(
    "    for item in items:\n        result += item.price\n",
    "    for i in range(1, len(items)):\n        result += items[i].price\n",
)


def finding(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "file": "shop.py",
        "quoted_code": "for i in range(1, len(items)):",
        "line": 4,
        "severity": "major",
        "category": "bug",
        "title": "Skips the first item",
        "explanation": "range(1, ...) starts at the second item.\nUse range(len(items)).",
        "replacement": "    for i in range(len(items)):",
    }
    return {**base, **over}


def answer(*findings: dict[str, object]) -> Reply:
    return chat_reply(json.dumps({"findings": list(findings)}))


def scores(*confidences: float) -> Reply:
    return chat_reply(
        json.dumps({"scores": [{"index": i, "confidence": c} for i, c in enumerate(confidences)]})
    )


def example(corpora: Path, event: str, action: str) -> dict[str, Any]:
    """The first corpus payload of ``event`` with ``action`` (a deep copy to edit)."""
    for name, payload in github_examples(corpora):
        if name == event and payload.get("action") == action:
            return copy.deepcopy(payload)
    raise AssertionError(f"no {event}.{action} example in the corpus")


@dataclass
class Job:
    """One CI job's environment: the runner's variables and files."""

    directory: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def output(self) -> Path:
        return self.directory / "github_output"

    @property
    def summary(self) -> Path:
        return self.directory / "step_summary"

    def outputs(self) -> dict[str, str]:
        from tests.actions.runner import parse_outputs

        return parse_outputs(self.output.read_text()) if self.output.exists() else {}


class GitHubWorld:
    def __init__(self, server: TestForge, llm: ScriptedServer, tmp: Path) -> None:
        self.server, self.llm, self.tmp = server, llm, tmp
        server.create_repo(GITHUB_REPO, files={"shop.py": BASE, "README.md": "# shop\n"})
        self.issue = server.add_issue(GITHUB_REPO, "Totals are wrong", author="Codertocat")
        server.commit(GITHUB_REPO, "feature", {"shop.py": HEAD}, "Iterate by index")
        self.number = server.add_pull(
            GITHUB_REPO, head="feature", title="Faster totals", author="Codertocat"
        )
        assert (self.issue, self.number) == (1, 2)  # the numbers of the corpus' payloads
        self.token = server.add_user(ACTIONS_BOT)
        self.read_only_token = server.add_user("fork-runner", read_only=True)

    def settings(self, *, read_only: bool = False, **extra: object) -> Settings:
        values: dict[str, object] = {
            "github_api_url": self.server.github_api_url,
            "github_token": SecretStr(self.read_only_token if read_only else self.token),
            "bot_logins": [ACTIONS_BOT],
            "forge_timeout_s": 5.0,
            "github_write_pause_s": 0.0,
            "llm_base_urls": [self.llm.base_url],
            "llm_model": "scripted",
            "llm_max_retries": 0,
            "llm_max_concurrency": 1,
            "llm_context_tokens": 16000,
            "cache_dir": self.tmp / "cache",
            **extra,
        }
        return Settings.model_validate(values)

    def job(self, event_name: str, payload: dict[str, Any]) -> Job:
        directory = self.tmp / f"job-{len(list(self.tmp.glob('job-*')))}"
        directory.mkdir()
        event_path = directory / "event.json"
        event_path.write_text(json.dumps(payload))
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": GITHUB_REPO,
            "GITHUB_API_URL": self.server.github_api_url,
            "GITHUB_OUTPUT": str(directory / "github_output"),
            "GITHUB_STEP_SUMMARY": str(directory / "step_summary"),
            "GITHUB_WORKSPACE": str(directory),
            "RUNNER_TEMP": str(directory),
        }
        return Job(directory, env)

    def inline(self) -> list[dict[str, Any]]:
        return self.server.comments(GITHUB_REPO, self.number, kind="review")

    def conversation(self) -> list[dict[str, Any]]:
        return self.server.comments(GITHUB_REPO, self.number, kind="issue")


@pytest.fixture
def github(testforge: TestForge, scripted: ScriptedServer, tmp_path: Path) -> GitHubWorld:
    return GitHubWorld(testforge, scripted, tmp_path)


class GitLabWorld:
    def __init__(self, server: TestForge, llm: ScriptedServer, tmp: Path) -> None:
        self.server, self.llm, self.tmp = server, llm, tmp
        server.create_repo(GITLAB_REPO, files={"shop.py": BASE}, default_branch="master")
        server.commit(GITLAB_REPO, "test", {"shop.py": HEAD}, "Iterate by index", start="master")
        self.number = server.add_pull(
            GITLAB_REPO, head="test", base="master", title="Test", author="root"
        )
        assert self.number == 1  # the merge request of the corpus' pipeline payloads
        self.token = "glpat-ci-variable-0123456789"
        server.add_user(GITLAB_BOT, token=self.token)
        server.set_permission(GITLAB_REPO, GITLAB_BOT, "write")

    def settings(self) -> Settings:
        return Settings.model_validate(
            {
                "gitlab_url": self.server.gitlab_url,
                "gitlab_token": SecretStr(self.token),
                "bot_logins": [GITLAB_BOT],
                "forge_timeout_s": 5.0,
                "llm_base_urls": [self.llm.base_url],
                "llm_model": "scripted",
                "llm_max_retries": 0,
                "llm_max_concurrency": 1,
                "llm_context_tokens": 16000,
                "cache_dir": self.tmp / "cache",
            }
        )


@pytest.fixture
def gitlab(testforge: TestForge, scripted: ScriptedServer, tmp_path: Path) -> GitLabWorld:
    return GitLabWorld(testforge, scripted, tmp_path)


def gitlab_pipeline_env(corpora: Path, server_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """GitLab CI's predefined variables of the pipelines in the corpus' Pipeline Hook bodies."""
    for path in sorted((corpora / "gitlab" / "webhooks").glob("*/pipeline.json")):
        body = json.loads(path.read_text())
        attrs, project = body["object_attributes"], body["project"]
        env = {
            "GITLAB_CI": "true",
            "CI_SERVER_URL": server_url,
            "CI_PROJECT_PATH": project["path_with_namespace"],
            "CI_PROJECT_ID": str(project["id"]),
            "CI_DEFAULT_BRANCH": project["default_branch"],
            "CI_PIPELINE_SOURCE": attrs["source"],
            "CI_COMMIT_SHA": attrs["sha"],
        }
        mr = body.get("merge_request")
        if mr:
            env |= {
                "CI_MERGE_REQUEST_IID": str(mr["iid"]),
                "CI_MERGE_REQUEST_PROJECT_ID": str(mr["target_project_id"]),
                "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": str(mr["source_project_id"]),
                "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": mr["target_branch"],
            }
        yield f"{path.parent.name}/{path.name}", env
