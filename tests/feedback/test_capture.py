"""Feedback webhooks normalised from the forges' own example payloads (corpus)."""

from __future__ import annotations

from pathlib import Path

from bot.intake.events import FeedbackEvent, FeedbackKind
from bot.intake.github import normalise_github
from bot.intake.gitlab import normalise_gitlab
from bot.intake.policy import IntakePolicy
from tests.support.payloads import (
    github_review_reply,
    github_review_thread,
    gitlab_emoji,
    gitlab_note,
)

POLICY = IntakePolicy.create(["forge-assist[bot]", "assist-bot"], "/assist")
REPO = "octo/shop"


def one(normalised: object) -> FeedbackEvent:
    events = normalised.events  # type: ignore[attr-defined]
    assert len(events) == 1, normalised
    assert isinstance(events[0], FeedbackEvent)
    return events[0]


def test_github_thread_resolved_and_unresolved(corpora: Path) -> None:
    for action in ("resolved", "unresolved"):
        payload = github_review_thread(
            corpora, repo=REPO, repo_id=1, number=7, first_comment=501, action=action,
            author="maint",
        )  # fmt: skip
        event = one(normalise_github("pull_request_review_thread", payload, POLICY))
        assert (event.kind, event.value, event.target_comment_id, event.actor) == (
            FeedbackKind.THREAD, action, 501, "maint",
        )  # fmt: skip
    payload["sender"]["login"] = "forge-assist[bot]"
    ignored = normalise_github("pull_request_review_thread", payload, POLICY)
    assert ignored.events == ()
    assert ignored.ignored is not None


def test_github_reply_in_a_thread(corpora: Path) -> None:
    payload = github_review_reply(
        corpora, repo=REPO, repo_id=1, number=7, comment_id=600, in_reply_to=501,
        body="Not a bug: index 0 is the header row.", author="alice",
    )  # fmt: skip
    event = one(normalise_github("pull_request_review_comment", payload, POLICY))
    assert (event.kind, event.target_comment_id, event.comment_id, event.addressed) == (
        FeedbackKind.REPLY, 501, 600, False,
    )  # fmt: skip
    payload["comment"]["body"] = "@forge-assist why is this a problem?"
    assert one(normalise_github("pull_request_review_comment", payload, POLICY)).addressed
    # a command in a reply stays a command; our own replies are ignored
    payload["comment"]["body"] = "/assist remember index 0 is a header row"
    (command,) = normalise_github("pull_request_review_comment", payload, POLICY).events
    assert type(command).__name__ == "CommandEvent"
    payload["comment"]["user"]["login"] = payload["sender"]["login"] = "forge-assist[bot]"
    assert normalise_github("pull_request_review_comment", payload, POLICY).events == ()


def test_gitlab_award_emoji_on_a_merge_request_note(corpora: Path) -> None:
    payload = gitlab_emoji(
        corpora, repo=REPO, project_id=3, iid=7, note_id=900, name="thumbsdown", author="bob",
        discussion_id="abc",
    )  # fmt: skip
    event = one(normalise_gitlab("Emoji Hook", payload, POLICY))
    assert (event.kind, event.value, event.target_comment_id, event.number, event.revoked) == (
        FeedbackKind.REACTION, "-1", 900, 7, False,
    )  # fmt: skip
    payload["object_attributes"]["action"] = "revoke"
    assert one(normalise_gitlab("Emoji Hook", payload, POLICY)).revoked
    payload["user"]["username"] = "assist-bot"
    assert normalise_gitlab("Emoji Hook", payload, POLICY).events == ()
    payload["object_attributes"]["awardable_type"] = "Issue"
    assert normalise_gitlab("Emoji Hook", payload, POLICY).events == ()


def test_gitlab_note_in_a_discussion(corpora: Path) -> None:
    payload = gitlab_note(
        corpora, repo=REPO, project_id=3, iid=7, note_id=901, body="@assist-bot why?",
        author="alice", discussion_id="abc", note_type="DiffNote",
    )  # fmt: skip
    event = one(normalise_gitlab("Note Hook", payload, POLICY))
    assert (event.kind, event.discussion_id, event.comment_id, event.addressed) == (
        FeedbackKind.REPLY, "abc", 901, True,
    )  # fmt: skip
    payload["object_attributes"]["type"] = None  # a lone note is no thread of ours
    assert normalise_gitlab("Note Hook", payload, POLICY).events == ()
