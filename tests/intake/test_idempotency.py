"""Redeliveries enqueue nothing; concurrent copies make one job; newer heads supersede."""

from __future__ import annotations

import concurrent.futures
import copy
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis
import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from bot.jobs.queue import is_superseded
from tests.support.webhooks import dumps, github_examples, github_headers


def _opened(corpora: Path, *, number: int, head: str) -> dict[str, Any]:
    payload = copy.deepcopy(
        next(
            p
            for e, p in github_examples(corpora)
            if e == "pull_request" and p["action"] == "opened" and not p["pull_request"]["draft"]
        )
    )
    payload["number"] = payload["pull_request"]["number"] = number
    payload["pull_request"]["head"]["sha"] = head
    return payload


def _post(server: str, payload: dict[str, Any], event: str, delivery: str) -> httpx.Response:
    body = dumps(payload)
    return httpx.post(
        server + "/webhooks/github",
        content=body,
        headers=github_headers(event, body, delivery=delivery),
        timeout=30,
    )


def test_redelivery_answers_original_jobs(
    server: str, corpora: Path, rds: redis.Redis, db: sa.Engine
) -> None:
    delivery = str(uuid.uuid4())
    payload = _opened(corpora, number=5001, head="a" * 40)
    first = _post(server, payload, "pull_request", delivery)
    assert first.status_code == 202
    queue = Queue("review", connection=rds)
    before = queue.count
    again = _post(server, payload, "pull_request", delivery)
    assert again.status_code == 200
    assert again.json()["jobs"] == first.json()["jobs"]
    assert again.json()["duplicate"] is True
    assert queue.count == before
    with db.connect() as conn:
        outcomes = sorted(
            conn.execute(
                sa.text("SELECT outcome FROM deliveries WHERE delivery_id = :d"), {"d": delivery}
            ).scalars()
        )
    assert outcomes == ["duplicate", "queued"]


def test_twenty_concurrent_copies_make_one_job(
    server: str, corpora: Path, rds: redis.Redis
) -> None:
    delivery = str(uuid.uuid4())
    payload = _opened(corpora, number=5002, head="b" * 40)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(lambda _: _post(server, payload, "pull_request", delivery), range(20))
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 19 + [202]
    job_ids = {tuple(a.json()["jobs"]) for a in answers}
    assert len(job_ids) == 1
    (job_id,) = job_ids.pop()
    queued = Queue("review", connection=rds).get_job_ids()
    assert queued.count(job_id) == 1


def test_same_work_from_two_deliveries_is_one_job(
    server: str, corpora: Path, rds: redis.Redis
) -> None:
    payload = _opened(corpora, number=5003, head="c" * 40)
    a = _post(server, payload, "pull_request", str(uuid.uuid4()))
    b = _post(server, payload, "pull_request", str(uuid.uuid4()))
    assert a.status_code == b.status_code == 202
    assert a.json()["jobs"] == b.json()["jobs"]
    assert Queue("review", connection=rds).get_job_ids().count(a.json()["jobs"][0]) == 1


def test_newer_head_supersedes_queued_review(server: str, corpora: Path, rds: redis.Redis) -> None:
    old = _post(
        server, _opened(corpora, number=5004, head="d" * 40), "pull_request", str(uuid.uuid4())
    ).json()["jobs"][0]
    old_job = Job.fetch(old, connection=rds)
    assert not is_superseded(rds, old_job)
    sync = _opened(corpora, number=5004, head="e" * 40)
    sync["action"], sync["before"] = "synchronize", "d" * 40
    new = _post(server, sync, "pull_request", str(uuid.uuid4())).json()["jobs"][0]
    assert is_superseded(rds, old_job)
    assert not is_superseded(rds, Job.fetch(new, connection=rds))
