from __future__ import annotations

import re

from bot.domain import Forge, RepoRef
from bot.intake.events import (
    Command,
    CommandEvent,
    CommandName,
    PullAction,
    PullRequestEvent,
    TargetKind,
)
from bot.intake.routes import all_routes
from bot.intake.routing import QueueName, job_id, route

REPO = RepoRef(Forge.GITHUB, "octo/repo", 1, "main", 9)


def _pull(head: str, action: PullAction = PullAction.OPENED) -> PullRequestEvent:
    return PullRequestEvent(REPO, action, 3, head, "b" * 40, "feature", "main", "alice")


def test_job_ids_are_stable_and_rq_safe() -> None:
    a = job_id("review", "github", "octo/repo", 3, "a" * 40, "review")
    assert a == job_id("review", "github", "octo/repo", 3, "a" * 40, "review")
    assert a != job_id("review", "github", "octo/repo", 3, "c" * 40, "review")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", a)


def test_review_of_pull_request() -> None:
    (spec,) = route(all_routes(), [_pull("a" * 40)])
    assert spec.queue is QueueName.REVIEW
    assert spec.kwargs["head_sha"] == "a" * 40
    assert spec.supersede_key == "review:github:octo/repo:3"


def test_same_event_twice_is_one_job() -> None:
    specs = route(all_routes(), [_pull("a" * 40), _pull("a" * 40, PullAction.REOPENED)])
    assert len(specs) == 1


def test_closed_drops_the_overlay_and_harvests_feedback() -> None:
    forget, harvest = route(all_routes(), [_pull("a" * 40, PullAction.CLOSED)])
    assert forget.queue is QueueName.INDEX
    assert forget.job_id.startswith("forget-")
    assert (harvest.queue, harvest.func) == (
        QueueName.REVIEW,
        "bot.jobs.feedback.harvest_job",
    )


def test_commands_by_target() -> None:
    def one(name: CommandName, target: TargetKind, arg: str = "") -> str:
        event = CommandEvent(REPO, Command(name, arg), target, 3, 77, "bob")
        (spec,) = route(all_routes(), [event])
        return spec.job_id.split("-")[0]

    assert one(CommandName.REVIEW, TargetKind.PULL) == "review"
    assert one(CommandName.REVIEW, TargetKind.ISSUE) == "help"
    assert one(CommandName.FIX, TargetKind.ISSUE) == "fix"
    assert one(CommandName.ASK, TargetKind.PULL, "why?") == "ask"
    assert one(CommandName.ASK, TargetKind.PULL) == "help"
    assert one(CommandName.REMEMBER, TargetKind.PULL, "we assert in tests") == "rules"
    assert one(CommandName.RULES, TargetKind.ISSUE) == "rules"
    assert one(CommandName.FORGET, TargetKind.PULL, "3") == "rules"
    assert one(CommandName.HELP, TargetKind.ISSUE) == "help"
