"""The plain values every job about a pull request or issue receives."""

from __future__ import annotations

from bot.domain import RepoRef
from bot.intake.events import CommandEvent, PullRequestEvent
from bot.intake.routing import JsonScalar


def repo_kwargs(repo: RepoRef) -> dict[str, JsonScalar]:
    return {
        "forge": repo.forge.value,
        "repo": repo.path,
        "project_id": repo.project_id,
        "default_branch": repo.default_branch,
        "installation_id": repo.installation_id,
    }


def command_kwargs(event: CommandEvent) -> dict[str, JsonScalar]:
    return {
        **repo_kwargs(event.repo),
        "number": event.number,
        "target": event.target.value,
        "comment_id": event.comment_id,
        "author": event.author,
        "argument": event.command.argument,
        "discussion_id": event.discussion_id,
        "thread_comment_id": event.review_thread_comment_id,
    }


def pull_kwargs(event: PullRequestEvent) -> dict[str, JsonScalar]:
    return {
        **repo_kwargs(event.repo),
        "number": event.number,
        "head_sha": event.head_sha,
        "base_sha": event.base_sha,
        "head_ref": event.head_ref,
        "base_ref": event.base_ref,
        "previous_head_sha": event.previous_head_sha,
        "author": event.author,
        "trigger": event.action.value,
    }
