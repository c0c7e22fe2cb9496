"""Every real payload of the corpora, posted over HTTP to a running `assist serve`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from rq.job import Job

from tests.support.webhooks import (
    dumps,
    github_examples,
    github_headers,
    gitlab_bodies,
    gitlab_event_header,
    gitlab_headers,
)

# Which job kind each handled GitHub (event, action) produces; everything else produces none.
GITHUB_JOBS: dict[tuple[str, str | None], str] = {
    ("pull_request", "opened"): "review",
    ("pull_request", "reopened"): "review",
    ("pull_request", "synchronize"): "review",
    ("pull_request", "ready_for_review"): "review",
    ("pull_request", "closed"): "forget+harvest",  # drop the overlay; read the feedback
    ("installation", "created"): "install",
    ("installation", "deleted"): "install",
    ("installation_repositories", "added"): "install",
    ("installation_repositories", "removed"): "install",
    ("push", None): "index",
    # feedback on our findings (issue 16): a thread resolved or unresolved
    ("pull_request_review_thread", "resolved"): "feedback",
    ("pull_request_review_thread", "unresolved"): "feedback",
}
QUEUE_OF = {
    "review": "review",
    "forget": "index",
    "harvest": "review",
    "feedback": "review",
    "install": "index",
    "index": "index",
    "fix": "fix",
    "ask": "review",
    "help": "review",
}


def expected_github(event: str, payload: dict[str, Any]) -> str | None:
    kind = GITHUB_JOBS.get((event, payload.get("action")))
    if kind == "review" and payload["pull_request"].get("draft"):
        return None
    if kind == "index":
        ref, repo = payload["ref"], payload["repository"]
        if payload.get("deleted") or ref != f"refs/heads/{repo.get('default_branch')}":
            return None
    return kind


def kinds(jobs: list[str]) -> list[str]:
    return [job.split("-", 1)[0] for job in jobs]


def assert_enqueued(rds: redis.Redis, jobs: list[str]) -> None:
    for job_id in jobs:
        job = Job.fetch(job_id, connection=rds)
        assert job.origin == QUEUE_OF[job_id.split("-", 1)[0]]


def test_every_github_example(server: str, corpora: Path, rds: redis.Redis) -> None:
    examples = github_examples(corpora)
    assert len(examples) == 329
    seen: dict[str, int] = {}
    with httpx.Client(base_url=server, timeout=30) as client:
        for event, payload in examples:
            body = dumps(payload)
            answer = client.post(
                "/webhooks/github", content=body, headers=github_headers(event, body)
            )
            expected = expected_github(event, payload)
            assert answer.status_code < 500, (event, answer.text)
            data = answer.json()
            if expected is None:
                assert answer.status_code == 200, (event, payload.get("action"), data)
                assert data["jobs"] == [], (event, payload.get("action"), data)
                assert data["ignored"]
            elif data.get("duplicate"):  # two corpus examples can describe the same work
                assert kinds(data["jobs"]) == expected.split("+")
            else:
                assert answer.status_code == 202, (event, payload.get("action"), data)
                assert kinds(data["jobs"]) == expected.split("+"), (event, payload.get("action"))
                assert_enqueued(rds, data["jobs"])
            seen[expected or "none"] = seen.get(expected or "none", 0) + 1
    # The table is exercised: every kind of job was produced by some real payload.
    assert {"review", "forget+harvest", "install", "index", "none"} <= set(seen)


# Which job kind each GitLab corpus body produces.
GITLAB_JOBS = {
    "set-a/mr.json": "review",
    "set-a/push.json": "index",
    "set-b/merge_request.json": "review",
    "set-b/service_merge_request.json": "review",  # update with oldrev: new commits
    "set-b/push.json": "index",
}
# Bodies that are broken in the corpus itself: verified, so answered 200 and ignored with the
# reason (a 4xx would make GitLab disable the hook).
GITLAB_MALFORMED = {
    "set-b/group_merge_request.json",  # keys carry trailing spaces ("iid "), no project id
}


def test_every_gitlab_body(server: str, corpora: Path, rds: redis.Redis) -> None:
    bodies = gitlab_bodies(corpora)
    assert len(bodies) == 47
    with httpx.Client(base_url=server, timeout=30) as client:
        for name, payload in bodies:
            answer = client.post(
                "/webhooks/gitlab",
                content=dumps(payload),
                headers=gitlab_headers(gitlab_event_header(payload)),
            )
            assert answer.status_code < 500, (name, answer.text)
            data = answer.json()
            expected = GITLAB_JOBS.get(name)
            if name in GITLAB_MALFORMED:
                assert answer.status_code == 200, (name, data)
                assert "object_attributes.iid" in data["ignored"]
            elif expected is None:
                assert answer.status_code == 200, (name, data)
                assert data["jobs"] == [], name
            elif data.get("duplicate"):
                assert kinds(data["jobs"]) == [expected], name
            else:
                assert answer.status_code == 202, (name, data)
                assert kinds(data["jobs"]) == [expected], name
                assert_enqueued(rds, data["jobs"])


def _issue_comment(corpora: Path, body: str, *, on_pull: bool, comment_id: int) -> dict[str, Any]:
    examples = [p for e, p in github_examples(corpora) if e == "issue_comment"]
    payload = copy.deepcopy(next(p for p in examples if p["action"] == "created"))
    payload["comment"]["body"] = body
    payload["comment"]["id"] = comment_id
    if on_pull:
        payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/x/y/pulls/1"}
    else:
        payload["issue"].pop("pull_request", None)
    return payload


@pytest.mark.parametrize(
    ("text", "on_pull", "kind"),
    [
        ("/assist review", True, "review"),
        ("Please look.\n/assist review\nthanks", True, "review"),
        ("/assist fix the null check in parse()", False, "fix"),
        ("/assist fix", True, "fix"),
        ("/assist ask why is this loop quadratic?", True, "ask"),
        ("/assist help", False, "help"),
        ("/assist frobnicate", True, "help"),
        ("/assist review", False, "help"),  # review needs a pull request: say so
        ("> /assist fix\nquoted, not a command", False, None),
        ("```\n/assist fix\n```", False, None),
        ("just a comment", True, None),
    ],
)
def test_github_commands(
    server: str, corpora: Path, rds: redis.Redis, text: str, on_pull: bool, kind: str | None
) -> None:
    comment_id = abs(hash((text, on_pull))) % 10**9
    payload = _issue_comment(corpora, text, on_pull=on_pull, comment_id=comment_id)
    body = dumps(payload)
    answer = httpx.post(
        server + "/webhooks/github", content=body, headers=github_headers("issue_comment", body)
    )
    data = answer.json()
    if kind is None:
        assert (answer.status_code, data["jobs"]) == (200, [])
    else:
        assert answer.status_code == 202, data
        assert kinds(data["jobs"]) == [kind]
        assert_enqueued(rds, data["jobs"])


def test_gitlab_note_commands(server: str, corpora: Path, rds: redis.Redis) -> None:
    base = dict(gitlab_bodies(corpora))
    cases = [
        ("set-a/mr-comment.json", "/assist review", "review"),
        ("set-a/issue-comment.json", "/assist fix please", "fix"),
        ("set-b/note_merge_request.json", "/assist ask what does this do?", "ask"),
        ("set-b/note_commit.json", "/assist review", None),
    ]
    for index, (name, note, kind) in enumerate(cases):
        payload = copy.deepcopy(base[name])
        payload["object_attributes"]["note"] = note
        payload["object_attributes"]["id"] = 900000 + index
        answer = httpx.post(
            server + "/webhooks/gitlab", content=dumps(payload), headers=gitlab_headers("Note Hook")
        )
        data = answer.json()
        if kind is None:
            assert (answer.status_code, data["jobs"]) == (200, []), name
        else:
            assert answer.status_code == 202, (name, data)
            assert kinds(data["jobs"]) == [kind]
            assert_enqueued(rds, data["jobs"])


def test_bot_and_own_comments_are_ignored(server: str, corpora: Path) -> None:
    own = _issue_comment(corpora, "/assist review", on_pull=True, comment_id=77)
    own["comment"]["user"]["login"] = own["sender"]["login"] = "forge-assist[bot]"
    bot = _issue_comment(corpora, "/assist review", on_pull=True, comment_id=78)
    bot["sender"]["type"] = bot["comment"]["user"]["type"] = "Bot"
    marker = _issue_comment(
        corpora, "<!-- forge-assist:summary -->\n/assist review", on_pull=True, comment_id=79
    )
    for payload, reason in ((own, "this bot"), (bot, "is a bot"), (marker, "our own")):
        body = dumps(payload)
        answer = httpx.post(
            server + "/webhooks/github", content=body, headers=github_headers("issue_comment", body)
        )
        assert answer.status_code == 200
        assert reason in answer.json()["ignored"]


def test_deliveries_are_recorded(server: str, corpora: Path, db: sa.Engine) -> None:
    event, payload = next((e, p) for e, p in github_examples(corpora) if e == "star")
    body = dumps(payload)
    headers = github_headers(event, body, delivery="recorded-star-1")
    assert httpx.post(server + "/webhooks/github", content=body, headers=headers).status_code == 200
    with db.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT forge, event, repo, outcome, status_code, reason FROM deliveries "
                "WHERE delivery_id = 'recorded-star-1'"
            )
        ).one()
    assert row.forge == "github"
    assert row.event == f"star.{payload['action']}"
    assert row.repo == payload["repository"]["full_name"]
    assert (row.outcome, row.status_code) == ("ignored", 200)
    assert "not used" in row.reason
