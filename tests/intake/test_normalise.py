"""The pure normalisers, including hostile input: only MalformedPayload, never a crash."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.intake.core import decode_body
from bot.intake.errors import MalformedPayload
from bot.intake.events import CommandEvent, PullAction, PullRequestEvent, PushEvent
from bot.intake.github import normalise_github
from bot.intake.gitlab import normalise_gitlab
from bot.intake.policy import IntakePolicy
from tests.support.webhooks import github_examples, gitlab_bodies

POLICY = IntakePolicy.create(["forge-assist[bot]"], "/assist")


def _github(corpora: Path, event: str, action: str | None = None) -> dict[str, Any]:
    return copy.deepcopy(
        next(
            p
            for e, p in github_examples(corpora)
            if e == event and (action is None or p.get("action") == action)
        )
    )


def test_synchronize_carries_previous_head(corpora: Path) -> None:
    payload = _github(corpora, "pull_request", "synchronize")
    (event,) = normalise_github("pull_request", payload, POLICY).events
    assert isinstance(event, PullRequestEvent)
    assert event.action is PullAction.UPDATED
    assert event.previous_head_sha == payload["before"]
    assert event.head_sha == payload["pull_request"]["head"]["sha"]
    assert event.repo.installation_id == payload["installation"]["id"]


def test_draft_is_ignored_with_reason(corpora: Path) -> None:
    payload = _github(corpora, "pull_request", "opened")
    payload["pull_request"]["draft"] = True
    result = normalise_github("pull_request", payload, POLICY)
    assert result.events == ()
    assert result.ignored is not None
    assert "draft" in result.ignored.reason


def test_gitlab_update_with_oldrev_is_new_commits(corpora: Path) -> None:
    payload = dict(gitlab_bodies(corpora))["set-b/service_merge_request.json"]
    (event,) = normalise_gitlab("Merge Request Hook", payload, POLICY).events
    assert isinstance(event, PullRequestEvent)
    assert event.action is PullAction.UPDATED
    assert event.previous_head_sha == payload["object_attributes"]["oldrev"]


def test_gitlab_ready_for_review(corpora: Path) -> None:
    payload = copy.deepcopy(dict(gitlab_bodies(corpora))["set-a/mr.json"])
    payload["object_attributes"]["action"] = "update"
    payload["object_attributes"].pop("oldrev", None)
    payload["changes"] = {"draft": {"previous": True, "current": False}}
    (event,) = normalise_gitlab("Merge Request Hook", payload, POLICY).events
    assert isinstance(event, PullRequestEvent)
    assert event.action is PullAction.READY


def test_gitlab_project_bot_is_ignored(corpora: Path) -> None:
    payload = copy.deepcopy(dict(gitlab_bodies(corpora))["set-a/mr-comment.json"])
    payload["object_attributes"]["note"] = "/assist review"
    payload["user"]["username"] = "project_42_bot_0123abcd"
    result = normalise_gitlab("Note Hook", payload, POLICY)
    assert result.ignored is not None
    assert "bot" in result.ignored.reason


def test_gitlab_note_keeps_discussion(corpora: Path) -> None:
    payload = copy.deepcopy(dict(gitlab_bodies(corpora))["set-a/mr-comment.json"])
    payload["object_attributes"]["note"] = "/assist ask what?"
    payload["object_attributes"]["discussion_id"] = "abc123"
    (event,) = normalise_gitlab("Note Hook", payload, POLICY).events
    assert isinstance(event, CommandEvent)
    assert event.discussion_id == "abc123"


def test_push_to_default_branch(corpora: Path) -> None:
    payload = next(
        p for e, p in github_examples(corpora) if e == "push" and p["ref"] == "refs/heads/master"
    )
    (event,) = normalise_github("push", payload, POLICY).events
    assert isinstance(event, PushEvent)
    assert event.branch == "master"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    event=st.sampled_from(
        [
            "pull_request",
            "issue_comment",
            "push",
            "installation",
            "pull_request_review_comment",
            "installation_repositories",
            "ping",
            "star",
        ]
    ),
    payload=json_values,
)
def test_github_hostile_payloads(event: str, payload: object) -> None:
    with contextlib.suppress(MalformedPayload):
        normalise_github(event, payload, POLICY)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    event=st.sampled_from(["Merge Request Hook", "Note Hook", "Push Hook", "Issue Hook"]),
    payload=json_values,
)
def test_gitlab_hostile_payloads(event: str, payload: object) -> None:
    with contextlib.suppress(MalformedPayload):
        normalise_gitlab(event, payload, POLICY)


@given(st.binary(max_size=300))
def test_decode_body_only_raises_malformed(body: bytes) -> None:
    for media in ("application/json", "application/x-www-form-urlencoded"):
        with contextlib.suppress(MalformedPayload):
            decode_body(body, media)


def test_deep_nesting_refused_before_parsing() -> None:
    with pytest.raises(MalformedPayload, match="too deeply nested"):
        decode_body(b"[" * 100_000 + b"]" * 100_000, "application/json")
