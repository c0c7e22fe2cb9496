"""Who may run a command: the comment re-read from the forge's API, its author's access.

Used by every job that runs a command; nothing here trusts a payload."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

from bot.access.quota import CommandQuotas, refusal_text
from bot.domain import RepoRef
from bot.forge.protocol import Forge
from bot.forge.types import Comment, Reaction
from bot.intake.commands import parse_command

log = logging.getLogger(__name__)


def command_comment(kwargs: Mapping[str, Any]) -> Comment:
    """The comment that carried a command, as the forge adapters need it to reply or react:
    a reply in a review thread (GitHub) or a discussion (GitLab) stays in its thread."""
    target = str(kwargs.get("target") or "pull")
    thread_comment = kwargs.get("thread_comment_id")
    discussion = kwargs.get("discussion_id")
    return Comment(
        id=int(kwargs["comment_id"]),
        kind="review" if thread_comment and kwargs["forge"] == "github" else "issue",
        number=int(kwargs["number"]),
        author=str(kwargs.get("author") or ""),
        body="",
        thread_id=str(discussion) if discussion else None,
        on="issue" if target == "issue" else "change",
    )


def verified_comment(
    forge: Forge,
    repo: RepoRef,
    comment: Comment,
    *,
    prefix: str = "/assist",
    require_command: bool = True,
) -> Comment | None:
    """The command's comment with its author from the forge's API (GitLab: the note re-read;
    the payload's ``user`` is never believed), or None when the API does not show that note
    (forged or deleted), or shows it written by us (our own comment never runs a command), or
    shows it without a command when one is required (edited): then nothing runs.
    ``require_command=False``: a reply that addresses the bot by mention."""
    posted = forge.comment_as_posted(repo, comment)
    if posted is None or is_own(forge, posted.author):
        return None
    needs = require_command and repo.forge == "gitlab"
    if needs and parse_command(posted.body, prefix=prefix) is None:
        return None
    return dataclasses.replace(comment, author=posted.author)


def is_own(forge: Forge, author: str) -> bool:
    """``author`` is us, by the identity the forge's API gives our credentials (cached), not
    by a login from the payload or configuration alone."""
    return bool(author) and author.lower() in forge.own_logins()


def may_command(forge: Forge, repo: RepoRef, user: str, *, change_author: str | None) -> bool:
    """Costly commands need write access to the repository, or being the change's author
    (who may ask for a review of their own pull request)."""
    if change_author is not None and user and user == change_author:
        return True
    return forge.permission(repo, user).can_write


def accept_command(
    forge: Forge,
    repo: RepoRef,
    kwargs: Mapping[str, Any],
    *,
    refusal: str,
    require_command: bool = True,
    quotas: CommandQuotas | None = None,
) -> tuple[Comment, dict[str, Any] | None]:
    """Check the commenter may run this costly command on the change: refuse politely in a
    reply (second value: the job's result), or acknowledge with a reaction (second: None).
    ``require_command=False`` for a reply addressing the bot in its thread (no command).
    Over a command quota (:mod:`bot.access.quota`) nothing more is asked of the forge: the
    window's first refusal replies once, later ones post nothing."""
    comment = verified_comment(
        forge, repo, command_comment(kwargs), require_command=require_command
    )
    if comment is None:
        own = is_own(forge, str(kwargs.get("author") or ""))
        reason = "our own comment" if own else "unverified comment"
        return command_comment(kwargs), {"status": "refused", "reason": reason}
    refused = over_quota(quotas, forge, repo, comment)
    if refused is not None:
        return comment, refused
    change = forge.get_change(repo, int(kwargs["number"]))
    if not may_command(forge, repo, comment.author, change_author=change.author):
        forge.respond(repo, comment, body=refusal)
        return comment, {"status": "refused", "reason": "no write access", "user": comment.author}
    forge.respond(repo, comment, reaction=Reaction.EYES)
    return comment, None


def over_quota(
    quotas: CommandQuotas | None,
    forge: Forge,
    repo: RepoRef,
    comment: Comment,
    *,
    now: float | None = None,
) -> dict[str, Any] | None:
    """None: the command (``comment``, its author already read from the forge) may run and is
    counted. Otherwise the job's result: refused by a quota; the first refusal of the window
    replies once, later ones post nothing."""
    if quotas is None:
        return None
    at = time.time() if now is None else now
    verdict = quotas.check(
        repo.forge, repo.path, comment.author, command_id=str(comment.id), now=at
    )
    if verdict.allowed:
        return None
    log.info(
        "command %s by %s on %s refused by the %s quota (%s)",
        comment.id,
        comment.author,
        repo,
        verdict.scope,
        "replied" if verdict.reply else "silent",
    )
    if verdict.reply:
        try:
            forge.respond(repo, comment, body=refusal_text(verdict, quotas.quota, now=at))
        except Exception:
            quotas.unclaim_reply(verdict)
            raise
    return verdict.detail()
