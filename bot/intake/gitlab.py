"""Normalise a verified GitLab hook into forge-neutral events. Pure."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from bot.domain import Forge, RepoRef
from bot.intake.commands import parse_command
from bot.intake.errors import MalformedPayload
from bot.intake.events import (
    CommandEvent,
    FeedbackEvent,
    FeedbackKind,
    Ignored,
    Normalised,
    PullAction,
    PullRequestEvent,
    PushEvent,
    TargetKind,
)
from bot.intake.payload import PayloadModel, parse_payload
from bot.intake.policy import IntakePolicy
from bot.intake.shapes import upgrade_gitlab

# GitLab's project and group access tokens act as users named like these.
_BOT_USERNAME = re.compile(r"^(project|group)_\d+_bot(_[0-9a-f]+)?$")
_ZERO_SHA = re.compile(r"^0+$")


class _User(PayloadModel):
    username: str
    bot: bool = False


class _Project(PayloadModel):
    id: int
    path_with_namespace: str
    default_branch: str | None = None


class _Commit(PayloadModel):
    id: str


class _MRAttributes(PayloadModel):
    iid: int
    action: str | None = None
    oldrev: str | None = None
    last_commit: _Commit
    source_branch: str
    target_branch: str
    draft: bool | None = None
    work_in_progress: bool | None = None
    author_id: int | None = None
    state: str | None = None


class _MRPayload(PayloadModel):
    user: _User
    project: _Project
    object_attributes: _MRAttributes
    changes: dict[str, Any] = Field(default_factory=dict)


class _NoteAttributes(PayloadModel):
    id: int
    note: str
    noteable_type: str
    discussion_id: str | None = None
    system: bool = False
    type: str | None = None  # DiffNote / DiscussionNote in a thread, None for a lone note


class _Noteable(PayloadModel):
    iid: int


class _NotePayload(PayloadModel):
    user: _User
    project: _Project
    object_attributes: _NoteAttributes
    merge_request: _Noteable | None = None
    issue: _Noteable | None = None


class _AwardAttributes(PayloadModel):
    id: int
    name: str
    awardable_type: str
    awardable_id: int
    action: str | None = None


class _AwardedNote(PayloadModel):
    noteable_type: str
    discussion_id: str | None = None


class _EmojiPayload(PayloadModel):
    event_type: str | None = None
    user: _User
    project: _Project
    object_attributes: _AwardAttributes
    note: _AwardedNote | None = None
    merge_request: _Noteable | None = None


# GitLab award emoji names -> the reaction names both forges share
EMOJI_REACTIONS = {"thumbsup": "+1", "thumbsdown": "-1"}


class _PushPayload(PayloadModel):
    ref: str
    before: str
    after: str
    project: _Project
    user_username: str | None = None


def _repo(project: _Project) -> RepoRef:
    return RepoRef(
        forge=Forge.GITLAB,
        path=project.path_with_namespace,
        project_id=project.id,
        default_branch=project.default_branch,
    )


def _bot_reason(user: _User, policy: IntakePolicy) -> str | None:
    if user.username.lower() in policy.own_logins:
        return f"sender {user.username} is this bot"
    if user.bot or _BOT_USERNAME.match(user.username):
        return f"sender {user.username} is a bot"
    return None


def _became_ready(changes: dict[str, Any]) -> bool:
    for key in ("draft", "work_in_progress"):
        change = changes.get(key)
        if (
            isinstance(change, dict)
            and change.get("previous") is True
            and not change.get("current")
        ):
            return True
    return False


def _merge_request(payload: dict[str, Any], policy: IntakePolicy) -> Normalised:
    p = parse_payload(_MRPayload, payload, "Merge Request Hook")
    attrs = p.object_attributes
    name = f"Merge Request Hook.{attrs.action}"
    repo = p.project.path_with_namespace
    is_draft = bool(attrs.draft or attrs.work_in_progress)
    action: PullAction | None
    match attrs.action:
        case "open":
            action = PullAction.OPENED
        case "reopen":
            action = PullAction.REOPENED
        case "close" | "merge":
            action = PullAction.CLOSED
        case "update" if attrs.oldrev and not _ZERO_SHA.match(attrs.oldrev):
            action = PullAction.UPDATED
        case "update" if _became_ready(p.changes):
            action = PullAction.READY
        case "update":
            return Normalised(name, repo, ignored=Ignored("update without new commits"))
        case _:
            action = None
    if action is None:
        return Normalised(name, repo, ignored=Ignored(f"action {attrs.action}"))
    if action is not PullAction.CLOSED:
        reason = _bot_reason(p.user, policy)
        if reason:
            return Normalised(name, repo, ignored=Ignored(reason))
        if is_draft:
            return Normalised(name, repo, ignored=Ignored("merge request is a draft"))
    event = PullRequestEvent(
        repo=_repo(p.project),
        action=action,
        number=attrs.iid,
        head_sha=attrs.last_commit.id,
        base_sha=None,  # not in the hook; the worker reads diff_refs from the API
        head_ref=attrs.source_branch,
        base_ref=attrs.target_branch,
        author=p.user.username,
        previous_head_sha=attrs.oldrev if action is PullAction.UPDATED else None,
        merged=attrs.action == "merge",
    )
    return Normalised(name, repo, events=(event,))


def _note(payload: dict[str, Any], policy: IntakePolicy) -> Normalised:
    p = parse_payload(_NotePayload, payload, "Note Hook")
    attrs = p.object_attributes
    name = f"Note Hook.{attrs.noteable_type}"
    repo = p.project.path_with_namespace
    if attrs.system:
        return Normalised(name, repo, ignored=Ignored("system note"))
    if attrs.noteable_type == "MergeRequest" and p.merge_request is not None:
        target, number = TargetKind.PULL, p.merge_request.iid
    elif attrs.noteable_type == "Issue" and p.issue is not None:
        target, number = TargetKind.ISSUE, p.issue.iid
    else:
        return Normalised(name, repo, ignored=Ignored(f"note on {attrs.noteable_type}"))
    reason = _bot_reason(p.user, policy)
    if reason:
        return Normalised(name, repo, ignored=Ignored(reason))
    if policy.marker in attrs.note:
        return Normalised(name, repo, ignored=Ignored("comment is our own"))
    command = parse_command(attrs.note, prefix=policy.command_prefix)
    threaded = attrs.type in ("DiffNote", "DiscussionNote")
    if command is None and target is TargetKind.PULL and attrs.discussion_id and threaded:
        # A note in a discussion: feedback if the discussion is one of our findings (the job
        # checks), and an answer in it when it addresses the bot.
        feedback = FeedbackEvent(
            repo=_repo(p.project),
            number=number,
            kind=FeedbackKind.REPLY,
            value=attrs.note,
            actor=p.user.username,
            comment_id=attrs.id,
            discussion_id=attrs.discussion_id,
            addressed=policy.addresses_bot(attrs.note),
        )
        return Normalised(name, repo, events=(feedback,))
    if command is None:
        return Normalised(name, repo, ignored=Ignored("no command in comment"))
    event = CommandEvent(
        repo=_repo(p.project),
        command=command,
        target=target,
        number=number,
        comment_id=attrs.id,
        author=p.user.username,
        discussion_id=attrs.discussion_id,
    )
    return Normalised(name, repo, events=(event,))


def _push(payload: dict[str, Any], _policy: IntakePolicy) -> Normalised:
    p = parse_payload(_PushPayload, payload, "Push Hook")
    repo = p.project.path_with_namespace
    if not p.ref.startswith("refs/heads/"):
        return Normalised("Push Hook", repo, ignored=Ignored("push of a tag"))
    if _ZERO_SHA.match(p.after):
        return Normalised("Push Hook", repo, ignored=Ignored("branch deleted"))
    branch = p.ref.removeprefix("refs/heads/")
    if p.project.default_branch is not None and branch != p.project.default_branch:
        return Normalised("Push Hook", repo, ignored=Ignored(f"push to {branch}, not the default"))
    event = PushEvent(repo=_repo(p.project), branch=branch, before_sha=p.before, after_sha=p.after)
    return Normalised("Push Hook", repo, events=(event,))


def _emoji(payload: dict[str, Any], policy: IntakePolicy) -> Normalised:
    p = parse_payload(_EmojiPayload, payload, "Emoji Hook")
    attrs = p.object_attributes
    action = attrs.action or p.event_type or "award"
    name = f"Emoji Hook.{action}"
    repo = p.project.path_with_namespace
    on_mr_note = (
        attrs.awardable_type == "Note"
        and p.note is not None
        and p.note.noteable_type == "MergeRequest"
        and p.merge_request is not None
    )
    if not on_mr_note or p.merge_request is None:
        return Normalised(name, repo, ignored=Ignored(f"award on {attrs.awardable_type}"))
    reason = _bot_reason(p.user, policy)
    if reason:
        return Normalised(name, repo, ignored=Ignored(reason))
    event = FeedbackEvent(
        repo=_repo(p.project),
        number=p.merge_request.iid,
        kind=FeedbackKind.REACTION,
        value=EMOJI_REACTIONS.get(attrs.name, attrs.name),
        actor=p.user.username,
        comment_id=attrs.id,
        target_comment_id=attrs.awardable_id,
        discussion_id=p.note.discussion_id if p.note else None,
        revoked=action == "revoke",
    )
    return Normalised(name, repo, events=(event,))


_HANDLERS = {
    "Merge Request Hook": _merge_request,
    "Emoji Hook": _emoji,
    "Note Hook": _note,
    "Push Hook": _push,
}


def normalise_gitlab(event: str, payload: object, policy: IntakePolicy) -> Normalised:
    """Turn a verified, JSON-decoded GitLab hook into events or a reason to ignore it."""
    if not isinstance(payload, dict):
        raise MalformedPayload("payload is not a JSON object")
    payload = upgrade_gitlab(event, payload)
    handler = _HANDLERS.get(event)
    if handler is None:
        project = payload.get("project")
        repo = project.get("path_with_namespace") if isinstance(project, dict) else None
        return Normalised(
            event,
            repo if isinstance(repo, str) else None,
            ignored=Ignored(f"event {event} not used"),
        )
    return handler(payload, policy)
