"""Normalise a verified GitHub delivery into forge-neutral events. Pure.

Only the fields we use are modelled (pydantic, extra fields ignored); a payload missing one of
them is malformed, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.domain import Forge, RepoRef
from bot.intake.commands import parse_command
from bot.intake.errors import MalformedPayload
from bot.intake.events import (
    CommandEvent,
    FeedbackEvent,
    FeedbackKind,
    Ignored,
    InstallationAction,
    InstallationEvent,
    Normalised,
    PullAction,
    PullRequestEvent,
    PushEvent,
    TargetKind,
)
from bot.intake.payload import PayloadModel, parse_payload
from bot.intake.policy import IntakePolicy
from bot.intake.shapes import upgrade_github


class _User(PayloadModel):
    login: str
    type: str = "User"


class _Repo(PayloadModel):
    full_name: str
    id: int | None = None
    default_branch: str | None = None


class _Installation(PayloadModel):
    id: int


class _Ref(PayloadModel):
    sha: str
    ref: str


class _Pull(PayloadModel):
    number: int
    draft: bool = False
    merged: bool | None = False
    head: _Ref
    base: _Ref
    user: _User


class _PullPayload(PayloadModel):
    action: str
    pull_request: _Pull
    repository: _Repo
    sender: _User
    installation: _Installation | None = None
    before: str | None = None


class _Comment(PayloadModel):
    id: int
    body: str | None = ""
    user: _User
    in_reply_to_id: int | None = None


class _Issue(PayloadModel):
    number: int
    pull_request: dict[str, Any] | None = None


class _IssueCommentPayload(PayloadModel):
    action: str
    issue: _Issue
    comment: _Comment
    repository: _Repo
    sender: _User
    installation: _Installation | None = None


class _ReviewCommentPayload(PayloadModel):
    action: str
    pull_request: _Pull
    comment: _Comment
    repository: _Repo
    sender: _User
    installation: _Installation | None = None


class _ThreadComment(PayloadModel):
    id: int


class _Thread(PayloadModel):
    comments: list[_ThreadComment]


class _ThreadPull(PayloadModel):
    number: int


class _ReviewThreadPayload(PayloadModel):
    action: str
    thread: _Thread
    pull_request: _ThreadPull
    repository: _Repo
    sender: _User
    installation: _Installation | None = None


class _PushPayload(PayloadModel):
    ref: str
    before: str
    after: str
    deleted: bool = False
    repository: _Repo
    sender: _User | None = None
    installation: _Installation | None = None


class _InstallRepo(PayloadModel):
    full_name: str


class _InstallationBody(PayloadModel):
    id: int
    account: _User | None = None


class _InstallationPayload(PayloadModel):
    action: str
    installation: _InstallationBody
    repositories: list[_InstallRepo] | None = None
    repositories_added: list[_InstallRepo] | None = None
    repositories_removed: list[_InstallRepo] | None = None


_NO_COMMAND = "no command in comment"

_PULL_ACTIONS = {
    "opened": PullAction.OPENED,
    "synchronize": PullAction.UPDATED,
    "reopened": PullAction.REOPENED,
    "ready_for_review": PullAction.READY,
    "closed": PullAction.CLOSED,
}


def _repo(repo: _Repo, installation: _Installation | None) -> RepoRef:
    return RepoRef(
        forge=Forge.GITHUB,
        path=repo.full_name,
        project_id=repo.id,
        default_branch=repo.default_branch,
        installation_id=installation.id if installation else None,
    )


def _bot_reason(user: _User, policy: IntakePolicy) -> str | None:
    if user.login.lower() in policy.own_logins:
        return f"sender {user.login} is this bot"
    if user.type == "Bot" or user.login.endswith("[bot]"):
        return f"sender {user.login} is a bot"
    return None


def _pull_request(payload: dict[str, Any], policy: IntakePolicy) -> Normalised:
    p = parse_payload(_PullPayload, payload, "pull_request")
    name = f"pull_request.{p.action}"
    action = _PULL_ACTIONS.get(p.action)
    if action is None:
        return Normalised(name, p.repository.full_name, ignored=Ignored(f"action {p.action}"))
    reason = _bot_reason(p.sender, policy)
    if reason and action is not PullAction.CLOSED:
        return Normalised(name, p.repository.full_name, ignored=Ignored(reason))
    if p.pull_request.draft and action is not PullAction.CLOSED:
        return Normalised(name, p.repository.full_name, ignored=Ignored("pull request is a draft"))
    pr = p.pull_request
    event = PullRequestEvent(
        repo=_repo(p.repository, p.installation),
        action=action,
        number=pr.number,
        head_sha=pr.head.sha,
        base_sha=pr.base.sha,
        head_ref=pr.head.ref,
        base_ref=pr.base.ref,
        author=pr.user.login,
        previous_head_sha=p.before if action is PullAction.UPDATED else None,
        merged=bool(pr.merged),
    )
    return Normalised(name, p.repository.full_name, events=(event,))


def _command_event(
    *,
    name: str,
    repo: RepoRef,
    comment: _Comment,
    sender: _User,
    target: TargetKind,
    number: int,
    policy: IntakePolicy,
    thread: int | None = None,
) -> Normalised:
    reason = _bot_reason(sender, policy) or _bot_reason(comment.user, policy)
    if reason:
        return Normalised(name, repo.path, ignored=Ignored(reason))
    body = comment.body or ""
    if policy.marker in body:
        return Normalised(name, repo.path, ignored=Ignored("comment is our own"))
    command = parse_command(body, prefix=policy.command_prefix)
    if command is None:
        return Normalised(name, repo.path, ignored=Ignored(_NO_COMMAND))
    event = CommandEvent(
        repo=repo,
        command=command,
        target=target,
        number=number,
        comment_id=comment.id,
        author=comment.user.login,
        review_thread_comment_id=thread,
    )
    return Normalised(name, repo.path, events=(event,))


def _issue_comment(payload: dict[str, Any], policy: IntakePolicy) -> Normalised:
    p = parse_payload(_IssueCommentPayload, payload, "issue_comment")
    name = f"issue_comment.{p.action}"
    if p.action != "created":
        return Normalised(name, p.repository.full_name, ignored=Ignored(f"action {p.action}"))
    target = TargetKind.PULL if p.issue.pull_request is not None else TargetKind.ISSUE
    return _command_event(
        name=name,
        repo=_repo(p.repository, p.installation),
        comment=p.comment,
        sender=p.sender,
        target=target,
        number=p.issue.number,
        policy=policy,
    )


def _review_comment(payload: dict[str, Any], policy: IntakePolicy) -> Normalised:
    p = parse_payload(_ReviewCommentPayload, payload, "pull_request_review_comment")
    name = f"pull_request_review_comment.{p.action}"
    if p.action != "created":
        return Normalised(name, p.repository.full_name, ignored=Ignored(f"action {p.action}"))
    repo = _repo(p.repository, p.installation)
    normalised = _command_event(
        name=name,
        repo=repo,
        comment=p.comment,
        sender=p.sender,
        target=TargetKind.PULL,
        number=p.pull_request.number,
        policy=policy,
        thread=p.comment.in_reply_to_id or p.comment.id,
    )
    no_command = normalised.ignored is not None and normalised.ignored.reason == _NO_COMMAND
    if not (no_command and p.comment.in_reply_to_id):
        return normalised
    # A reply in a review thread: feedback if the thread is one of our findings (the job
    # checks), and an answer in the thread when it addresses the bot.
    body = p.comment.body or ""
    event = FeedbackEvent(
        repo=repo,
        number=p.pull_request.number,
        kind=FeedbackKind.REPLY,
        value=body,
        actor=p.comment.user.login,
        comment_id=p.comment.id,
        target_comment_id=p.comment.in_reply_to_id,
        addressed=policy.addresses_bot(body),
    )
    return Normalised(name, repo.path, events=(event,))


def _review_thread(payload: dict[str, Any], policy: IntakePolicy) -> Normalised:
    p = parse_payload(_ReviewThreadPayload, payload, "pull_request_review_thread")
    name = f"pull_request_review_thread.{p.action}"
    if p.action not in ("resolved", "unresolved"):
        return Normalised(name, p.repository.full_name, ignored=Ignored(f"action {p.action}"))
    reason = _bot_reason(p.sender, policy)
    if reason:
        return Normalised(name, p.repository.full_name, ignored=Ignored(reason))
    if not p.thread.comments:
        return Normalised(name, p.repository.full_name, ignored=Ignored("thread has no comments"))
    event = FeedbackEvent(
        repo=_repo(p.repository, p.installation),
        number=p.pull_request.number,
        kind=FeedbackKind.THREAD,
        value=p.action,
        actor=p.sender.login,
        target_comment_id=p.thread.comments[0].id,
    )
    return Normalised(name, p.repository.full_name, events=(event,))


def _push(payload: dict[str, Any], _policy: IntakePolicy) -> Normalised:
    p = parse_payload(_PushPayload, payload, "push")
    repo = p.repository.full_name
    if not p.ref.startswith("refs/heads/"):
        return Normalised("push", repo, ignored=Ignored("push of a tag"))
    if p.deleted or set(p.after) == {"0"}:
        return Normalised("push", repo, ignored=Ignored("branch deleted"))
    branch = p.ref.removeprefix("refs/heads/")
    if p.repository.default_branch is not None and branch != p.repository.default_branch:
        return Normalised("push", repo, ignored=Ignored(f"push to {branch}, not the default"))
    event = PushEvent(
        repo=_repo(p.repository, p.installation),
        branch=branch,
        before_sha=p.before,
        after_sha=p.after,
    )
    return Normalised("push", repo, events=(event,))


def _installation(payload: dict[str, Any], event_name: str) -> Normalised:
    p = parse_payload(_InstallationPayload, payload, event_name)
    name = f"{event_name}.{p.action}"
    account = p.installation.account.login if p.installation.account else ""
    actions: dict[str, tuple[InstallationAction, list[_InstallRepo] | None]] = {
        "created": (InstallationAction.ADDED, p.repositories),
        "deleted": (InstallationAction.REMOVED, p.repositories),
        "added": (InstallationAction.ADDED, p.repositories_added),
        "removed": (InstallationAction.REMOVED, p.repositories_removed),
    }
    if p.action not in actions:
        return Normalised(name, None, ignored=Ignored(f"action {p.action}"))
    action, repos = actions[p.action]
    event = InstallationEvent(
        forge=Forge.GITHUB,
        action=action,
        installation_id=p.installation.id,
        account=account,
        repositories=tuple(r.full_name for r in repos or ()),
    )
    return Normalised(name, None, events=(event,))


_Handler = Callable[[dict[str, Any], IntakePolicy], Normalised]
_HANDLERS: dict[str, _Handler] = {
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "pull_request_review_comment": _review_comment,
    "pull_request_review_thread": _review_thread,
    "push": _push,
    "installation": lambda p, _policy: _installation(p, "installation"),
    "installation_repositories": lambda p, _policy: _installation(p, "installation_repositories"),
}

HANDLED_EVENTS: Sequence[str] = tuple(_HANDLERS)


def normalise_github(event: str, payload: object, policy: IntakePolicy) -> Normalised:
    """Turn a verified, JSON-decoded GitHub delivery into events or a reason to ignore it."""
    if not isinstance(payload, dict):
        raise MalformedPayload("payload is not a JSON object")
    payload = upgrade_github(payload)
    if event == "ping":
        return Normalised("ping", _repo_name(payload), ignored=Ignored("ping: pong"))
    handler = _HANDLERS.get(event)
    if handler is None:
        action = payload.get("action")
        name = f"{event}.{action}" if isinstance(action, str) else event
        return Normalised(name, _repo_name(payload), ignored=Ignored(f"event {name} not used"))
    return handler(payload, policy)


def _repo_name(payload: dict[str, Any]) -> str | None:
    repo = payload.get("repository")
    if isinstance(repo, dict) and isinstance(repo.get("full_name"), str):
        return str(repo["full_name"])
    return None
