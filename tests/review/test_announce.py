# ruff: noqa: F811  (the scene fixtures are imported from test_job_e2e)
"""End to end, both forges: a queued job is shown on the forge before it runs (bot.jobs.announce).

The webhook service only queues; a worker on the ``status`` queue alone (no review worker
started) posts the ``pending`` "queued" status or acknowledges a command, then the review
worker shows "reviewing" and the result. An announce never lands after a later state, and a
review superseded by a newer head is not announced.
"""

from __future__ import annotations

import uuid
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job

from bot.intake.routing import QueueName
from bot.jobs.queue import ANNOUNCE_JOB, announce_id
from tests.forge.conftest import REPO
from tests.review.test_job_e2e import Scene, e2e_db, scene, web  # noqa: F401  (fixtures)
from tests.review.test_service import answer, finding, scores
from tests.support.payloads import github_pull, gitlab_merge_request
from tests.support.processes import run_worker_burst


def review_states(scene: Scene, sha: str | None = None) -> list[dict[str, Any]]:
    return [
        s
        for s in scene.forge.statuses(REPO, sha or scene.head)
        if s["context"] == "forge-assist/review"
    ]


def announce(scene: Scene) -> None:
    """Only the status queue: the review workers are not started."""
    run_worker_burst(scene.worker_env, QueueName.STATUS.value)


def job_rows(scene: Scene, job_id: str) -> int:
    import sqlalchemy as sa

    with scene.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM job_runs WHERE job_id = :j"), {"j": job_id}
            ).scalar_one()
        )


def redis_of(scene: Scene) -> Redis:
    return Redis.from_url(scene.worker_env["ASSIST_REDIS_URL"])


def test_pending_while_queued_then_running_then_success(scene: Scene) -> None:
    scene.llm.push(answer(finding()), scores(0.9))
    (job_id,) = scene.opened()["jobs"]
    assert review_states(scene) == []  # the web process calls no forge
    announce(scene)
    states = review_states(scene)
    assert [s["state"] for s in states] == ["pending"]
    assert states[0]["description"] == "Forge Assist review queued (waiting for a worker)"
    assert scene.llm.chat_requests() == []  # the review itself has not run
    assert job_rows(scene, job_id) == 0
    done = Job.fetch(announce_id(job_id), connection=redis_of(scene))
    assert done.return_value() == {
        "status": "announced", "kind": "review", "pending": True, "head_sha": scene.head
    }  # fmt: skip
    scene.work()
    assert scene.job(job_id)[0] == "done"
    states = review_states(scene)
    assert [s["state"] for s in states] == ["pending", "pending", "success"]
    assert "queued" in states[0]["description"]
    assert "reviewing" in states[1]["description"]
    assert "finding" in states[2]["description"]


def test_an_announce_after_the_review_changes_nothing(scene: Scene) -> None:
    scene.llm.push(answer(finding()), scores(0.9))
    (job_id,) = scene.opened()["jobs"]
    scene.work()  # the announce first (status queue first), then the review
    before = review_states(scene)
    assert [s["state"] for s in before] == ["pending", "pending", "success"]
    # The same announce again, late (a slow status worker, an operator's retry):
    redis = redis_of(scene)
    original = Job.fetch(announce_id(job_id), connection=redis)
    late = Queue(QueueName.STATUS.value, connection=redis).enqueue_call(
        func=ANNOUNCE_JOB, kwargs=original.kwargs, job_id=f"late-{uuid.uuid4().hex}"
    )
    announce(scene)
    assert late.return_value(refresh=True) == {
        "status": "skipped",
        "reason": "the job is already finished",
    }
    assert review_states(scene) == before  # success stays the last word


def test_a_superseded_review_is_not_announced(scene: Scene) -> None:
    (first,) = scene.opened()["jobs"]
    old = scene.head
    scene.head = scene.forge.commit(REPO, "feature", {"README.md": "# shop\n\nTotals.\n"}, "Docs")
    if scene.kind == "github":
        payload = github_pull(
            scene.corpora, repo=REPO, repo_id=scene.repo_id, number=scene.number,
            head_sha=scene.head, base_sha=scene.base_sha, action="synchronize",
            installation=scene.installation, before=old,
        )  # fmt: skip
        (second,) = scene.deliver(payload, "pull_request")["jobs"]
    else:
        payload = gitlab_merge_request(
            scene.corpora, repo=REPO, project_id=scene.repo_id, iid=scene.number,
            head_sha=scene.head, action="update", oldrev=old,
        )  # fmt: skip
        (second,) = scene.deliver(payload, "Merge Request Hook")["jobs"]
    announce(scene)
    assert review_states(scene, old) == []
    assert [s["state"] for s in review_states(scene)] == ["pending"]
    redis = redis_of(scene)
    assert Job.fetch(announce_id(first), connection=redis).return_value() == {
        "status": "skipped",
        "reason": "superseded by a newer job",
    }
    assert Job.fetch(announce_id(second), connection=redis).return_value()["status"] == (
        "announced"
    )


def test_a_command_is_acknowledged_while_it_waits_and_a_refused_one_is_not(scene: Scene) -> None:
    accepted = scene.command("/assist review", author="maint")
    refused = scene.command("/assist ask why?", author="mallory")  # no write access
    announce(scene)
    notes = {n["id"]: n for n in scene.forge.comments(REPO, scene.number)}
    by_text = {n["body"]: n for n in notes.values()}
    reactions = [tuple(r) for r in by_text["/assist review"]["reactions"]]
    assert [content for _login, content in reactions] == ["eyes"]
    assert reactions[0][0] != "maint"  # the bot's
    assert by_text["/assist ask why?"]["reactions"] == []
    assert len(notes) == 2  # no reply yet: a refusal is the job's to say
    states = review_states(scene)
    assert [s["state"] for s in states] == ["pending"]
    assert "queued" in states[0]["description"]
    (job_id,) = accepted["jobs"]
    assert job_rows(scene, job_id) == 0
    (ask_id,) = refused["jobs"]
    assert Job.fetch(announce_id(ask_id), connection=redis_of(scene)).return_value() == {
        "status": "skipped",
        "reason": "not allowed (the job says so)",
    }
