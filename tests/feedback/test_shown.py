"""GitLab feedback is recorded as the API shows it (bot/feedback/shown.py): a payload's author
is never believed."""

from __future__ import annotations

from bot.feedback.outcome import Kind
from bot.feedback.shown import Shown, as_shown
from bot.forge.types import Comment, FindingThread


def _note(id_: int, author: str, body: str) -> Comment:
    return Comment(id=id_, kind="review", number=4, author=author, body=body, thread_id="d1")


THREAD = FindingThread(
    _note(10, "assist-bot", "<!-- forge-assist:finding:ab -->"),
    (_note(11, "mallory", "No, this is on purpose."), _note(12, "maint", "Agreed.")),
    (("mallory", "+1"), ("Maint", "-1")),
)


def shown(kind: Kind, actor: str, value: str = "", **over: object) -> Shown | None:
    args: dict[str, object] = {"comment_id": None, "target_comment_id": 10, "revoked": False}
    args |= over
    return as_shown(THREAD, kind=kind, actor=actor, value=value, **args)  # type: ignore[arg-type]


def test_a_reply_takes_its_author_and_text_from_the_api() -> None:
    assert shown(Kind.REPLY, "maint", "forged text", comment_id=11) == Shown(
        "mallory", "No, this is on purpose."
    )
    assert shown(Kind.REPLY, "maint", comment_id=99) is None  # no such note: forged
    assert shown(Kind.REPLY, "maint", comment_id=10) is None  # the finding is no reply


def test_a_reaction_counts_only_as_the_api_lists_it() -> None:
    assert shown(Kind.REACTION, "mallory", "+1") == Shown("mallory", "+1")
    assert shown(Kind.REACTION, "maint", "-1") == Shown("Maint", "-1")  # the API's spelling
    assert shown(Kind.REACTION, "maint", "+1") is None  # maint gave no +1: forged
    assert shown(Kind.REACTION, "root", "-1") is None
    assert shown(Kind.REACTION, "mallory", "+1", target_comment_id=11) is None  # not ours
    assert shown(Kind.REACTION, "mallory", "+1", target_comment_id=None) is None


def test_a_revoke_counts_only_when_the_award_is_gone() -> None:
    assert shown(Kind.REACTION, "mallory", "+1", revoked=True) is None  # still there: forged
    assert shown(Kind.REACTION, "mallory", "-1", revoked=True) == Shown("mallory", "-1")


def test_a_thread_state_from_a_gitlab_payload_is_not_believed() -> None:
    assert shown(Kind.THREAD, "maint", "resolved") is None
