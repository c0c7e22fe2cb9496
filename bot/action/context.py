"""What a CI job is asked to do, from the runner's environment and event payload. Pure.

GitHub Actions hands the job the webhook payload of the triggering event (`GITHUB_EVENT_PATH`),
so it is normalised by the same code as a webhook delivery; GitLab CI hands a merge request
pipeline its context in `CI_*` variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain import Forge, ForgeKind, RepoRef
from bot.intake.events import CommandEvent, CommandName, PullAction, PullRequestEvent, TargetKind
from bot.intake.github import normalise_github
from bot.intake.policy import IntakePolicy

# pull_request_target carries the pull_request payload; it runs in the base repository with
# its secrets and a writable token, which is safe here because the PR's code is never run.
_GITHUB_EVENTS = {
    "pull_request": "pull_request",
    "pull_request_target": "pull_request",
    "issue_comment": "issue_comment",
    "pull_request_review_comment": "pull_request_review_comment",
}


class ActionError(ValueError):
    """The job's environment cannot be used; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class Job:
    """One CI job's task: review or fix ``number`` of ``repo``, or nothing and why."""

    forge: ForgeKind
    repo: RepoRef
    number: int | None
    command: CommandName | None = None
    target: TargetKind = TargetKind.PULL
    argument: str = ""
    comment_id: int | None = None
    default_branch: str | None = None
    fork: bool = False
    ignored: str | None = None
    event: PullRequestEvent | CommandEvent | None = None  # as a webhook would deliver it


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ActionError(f"{name} is not set: run this inside a CI job")
    return value


def _fork(payload: Mapping[str, Any]) -> bool:
    pull = payload.get("pull_request")
    if not isinstance(pull, dict):
        return False
    head = (pull.get("head") or {}).get("repo") or {}
    base = (pull.get("base") or {}).get("repo") or {}
    return bool(head) and head.get("full_name") != base.get("full_name")


def github_job(env: Mapping[str, str], payload: object, policy: IntakePolicy) -> Job:
    """The job of a GitHub Actions run: `GITHUB_EVENT_NAME`, `GITHUB_REPOSITORY` and the
    event payload (the JSON at `GITHUB_EVENT_PATH`)."""
    name = _required(env, "GITHUB_EVENT_NAME")
    repo = RepoRef(Forge.GITHUB, _required(env, "GITHUB_REPOSITORY"))
    if not isinstance(payload, dict):
        raise ActionError("the event payload is not a JSON object")
    default_branch = (payload.get("repository") or {}).get("default_branch")
    webhook_name = _GITHUB_EVENTS.get(name)
    if webhook_name is None:
        return Job(Forge.GITHUB, repo, None, ignored=f"event {name} is not handled")
    normalised = normalise_github(webhook_name, payload, policy)
    if normalised.ignored is not None or not normalised.events:
        reason = normalised.ignored.reason if normalised.ignored else "nothing to do"
        return Job(Forge.GITHUB, repo, None, default_branch=default_branch, ignored=reason)
    event = normalised.events[0]
    if isinstance(event, PullRequestEvent):
        if event.action is PullAction.CLOSED:
            return Job(Forge.GITHUB, repo, None, ignored="pull request closed")
        return Job(
            Forge.GITHUB,
            repo,
            event.number,
            command=CommandName.REVIEW,
            default_branch=default_branch,
            fork=_fork(payload),
            event=event,
        )
    if isinstance(event, CommandEvent):
        return Job(
            Forge.GITHUB,
            repo,
            event.number,
            command=event.command.name,
            target=event.target,
            argument=event.command.argument,
            comment_id=event.comment_id,
            default_branch=default_branch,
            event=event,
        )
    return Job(Forge.GITHUB, repo, None, ignored=f"event {normalised.event_name} is not handled")


def gitlab_job(env: Mapping[str, str]) -> Job:
    """The job of a GitLab CI merge request pipeline (`CI_PIPELINE_SOURCE` is
    `merge_request_event`): `CI_PROJECT_PATH`, `CI_MERGE_REQUEST_IID` and friends."""
    repo = RepoRef(Forge.GITLAB, _required(env, "CI_PROJECT_PATH"))
    source = env.get("CI_PIPELINE_SOURCE", "")
    iid = env.get("CI_MERGE_REQUEST_IID", "").strip()
    if source != "merge_request_event" or not iid:
        return Job(Forge.GITLAB, repo, None, ignored=f"not a merge request pipeline ({source})")
    if not iid.isdigit():
        raise ActionError(f"CI_MERGE_REQUEST_IID is not a number: {iid!r}")
    source_project = env.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "")
    target_project = env.get("CI_MERGE_REQUEST_PROJECT_ID", "")
    return Job(
        Forge.GITLAB,
        repo,
        int(iid),
        command=CommandName.REVIEW,
        default_branch=env.get("CI_DEFAULT_BRANCH") or None,
        fork=bool(source_project and target_project and source_project != target_project),
    )
