"""Feedback as the forge's API shows it, not as a webhook payload tells it. Pure.

A GitLab webhook token proves that the sender knows the token, not who wrote a note or gave
an award emoji: a payload can name any ``user.username``. So a GitLab reply or reaction on
one of our findings is recorded (and answered) only as the API shows it: the thread of the
finding is read from the API anyway (``Forge.finding_threads``), and its replies and award
emoji carry their real authors. GitHub signs each delivery, so its payload is GitHub's word.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.feedback.outcome import Kind
from bot.forge.types import FindingThread


@dataclass(frozen=True, slots=True)
class Shown:
    """The signal's author and value as the API shows them."""

    actor: str
    value: str


def as_shown(
    thread: FindingThread,
    *,
    kind: Kind,
    actor: str,
    value: str,
    comment_id: int | None,
    target_comment_id: int | None,
    revoked: bool = False,
) -> Shown | None:
    """The GitLab signal of a payload as the API thread shows it, or None: the API does not
    show it (a forged author, a deleted note), so nothing is recorded or answered.

    - a reply: the note ``comment_id`` among the thread's replies gives author and text;
    - an award emoji: it must be on the finding's own note and the API must list it from
      that user (a revoke: must no longer list it);
    - a thread state: GitLab sends no webhook for it (the harvest reads it), so none.
    """
    if kind is Kind.REPLY:
        for reply in thread.replies:
            if comment_id is not None and reply.id == comment_id:
                return Shown(reply.author, reply.body)
        return None
    if kind is Kind.REACTION:
        if target_comment_id is None or target_comment_id != thread.comment.id:
            return None  # only the finding's own awards are read from the API
        given = [user for user, name in thread.reactions if name == value]
        match = next((user for user in given if user.lower() == actor.lower()), None)
        if revoked:
            return None if match is not None else Shown(actor, value)
        return Shown(match, value) if match is not None else None
    return None
