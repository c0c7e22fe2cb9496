"""GitLab and GitHub bodies of earlier generations, posted to a running `assist serve`: those
we can use queue their jobs; a verified body whose shape we cannot use is answered 2xx with
the reason, and the reason is recorded (a 4xx would make the forge disable the hook)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from rq.job import Job

from tests.support.webhooks import dumps, github_examples, github_headers, gitlab_headers

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return data


def recorded(db: sa.Engine, delivery: str) -> tuple[str, int, str, str | None]:
    with db.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT outcome, status_code, reason, repo FROM deliveries WHERE delivery_id = :d"
            ),
            {"d": delivery},
        ).one()
    return row.outcome, row.status_code, row.reason, row.repo


def post_gitlab(server: str, event: str, payload: object) -> tuple[str, httpx.Response]:
    delivery = str(uuid.uuid4())
    answer = httpx.post(
        server + "/webhooks/gitlab",
        content=dumps(payload),
        headers=gitlab_headers(event, delivery=delivery),
        timeout=30,
    )
    return delivery, answer


def with_command(payload: dict[str, Any], note: str) -> dict[str, Any]:
    edited = copy.deepcopy(payload)
    edited["object_attributes"]["note"] = note
    edited["object_attributes"]["id"] = uuid.uuid4().int % 10**9  # a new comment each run
    return edited


@pytest.mark.parametrize(
    ("name", "event", "kind", "repo"),
    [
        ("gitlab-8.5/push.json", "Push Hook", "index", "mike/diaspora"),
        ("gitlab-8.5/merge_request.json", "Merge Request Hook", "review",
         "awesome_space/awesome_project"),
        ("gitlab-8.5/note_merge_request.json", "Note Hook", "review", "gitlab-org/gitlab-test"),
    ],
)  # fmt: skip
def test_gitlab_8_bodies_queue_their_jobs(
    server: str, db: sa.Engine, rds: redis.Redis, name: str, event: str, kind: str, repo: str
) -> None:
    payload = load(name)
    if event == "Note Hook":
        payload = with_command(payload, "/assist review")
    delivery, answer = post_gitlab(server, event, payload)
    assert answer.status_code in (200, 202), answer.text
    jobs = answer.json()["jobs"]
    assert [j.split("-", 1)[0] for j in jobs] == [kind], answer.text
    for job_id in jobs:
        Job.fetch(job_id, connection=rds)  # it is in Redis
    outcome, status, _, recorded_repo = recorded(db, delivery)
    assert (outcome, recorded_repo) in {("queued", repo), ("duplicate", repo)}
    assert status == answer.status_code


def test_a_gitlab_8_commit_note_is_ignored_with_its_reason(server: str, db: sa.Engine) -> None:
    payload = with_command(load("gitlab-8.5/note_commit.json"), "/assist review")
    delivery, answer = post_gitlab(server, "Note Hook", payload)
    assert answer.status_code == 200, answer.text
    assert answer.json()["ignored"] == "note on Commit"
    assert recorded(db, delivery) == ("ignored", 200, "note on Commit", "gitlabhq/gitlab-test")


@pytest.mark.parametrize(
    ("event", "payload", "missing"),
    [
        # GitLab 7 pushes: no `project` object at all, nothing names the project's path.
        ("Push Hook", load("gitlab-7/push.json"), "project"),
        ("Merge Request Hook", {"object_kind": "merge_request", "object_attributes": []},
         "object_attributes"),
        ("Note Hook", [1, 2, 3], "not a JSON object"),
    ],
)  # fmt: skip
def test_a_verified_body_of_an_unusable_shape_is_2xx_with_a_recorded_reason(
    server: str, db: sa.Engine, event: str, payload: object, missing: str
) -> None:
    delivery, answer = post_gitlab(server, event, payload)
    assert answer.status_code == 200, answer.text
    reason = answer.json()["ignored"]
    assert reason.startswith("unusable payload: ")
    assert missing in reason
    assert recorded(db, delivery)[:3] == ("ignored", 200, reason)


def test_an_older_github_push_names_its_repository_the_old_way(
    server: str, corpora: Path, db: sa.Engine
) -> None:
    """Older push payloads: the owner by `name` (no `login`), no `full_name`, and
    `master_branch` instead of `default_branch`."""
    push = next(p for e, p in github_examples(corpora) if e == "push" and not p.get("deleted"))
    old = copy.deepcopy(push)
    repo = old["repository"]
    owner = repo["owner"]
    full_name = repo.pop("full_name")
    branch = repo.pop("default_branch")
    repo["master_branch"] = branch
    repo["owner"] = {"name": owner["login"], "email": None}
    old["ref"] = f"refs/heads/{branch}"
    old["after"] = uuid.uuid4().hex + "0" * 8
    body = dumps(old)
    delivery = str(uuid.uuid4())
    answer = httpx.post(
        server + "/webhooks/github",
        content=body,
        headers=github_headers("push", body, delivery=delivery),
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    assert [j.split("-", 1)[0] for j in answer.json()["jobs"]] == ["index"]
    assert recorded(db, delivery)[3] == full_name
