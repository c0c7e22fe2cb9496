"""The announce job's guard on real Redis (bot/jobs/announce.py, bot/jobs/queue.py): an
announce acts only while its job waits and is the newest of its change; a job about to
show its own state waits for an announce in flight; the queue adds one announce per new job,
never for a repeat."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
from rq import Queue
from rq.job import Job

from bot.intake.routing import JobSpec, QueueName
from bot.jobs.announce import LOCK_PREFIX, after_announce, why_not
from bot.jobs.queue import ANNOUNCE_JOB, QueuePolicy, RQJobQueue, announce_id
from bot.jobs.worker import status_first


@pytest.fixture
def conn(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def spec(number: int, head: str, *, announce: str | None = "review") -> JobSpec:
    return JobSpec(
        queue=QueueName.REVIEW,
        func="bot.jobs.review.review_job",
        job_id=f"review-{uuid.uuid4().hex}",
        kwargs={"forge": "github", "repo": "o/r", "number": number, "head_sha": head},
        description=f"review o/r#{number}",
        supersede_key=f"review:github:o/r:{number}",
        announce=announce,
    )


def test_every_worker_takes_the_status_queue_first() -> None:
    assert status_first([QueueName.REVIEW]) == [QueueName.STATUS, QueueName.REVIEW]
    assert status_first([QueueName.FIX, QueueName.STATUS, QueueName.FIX]) == [
        QueueName.STATUS,
        QueueName.FIX,
    ]
    assert status_first(list(QueueName))[0] is QueueName.STATUS


def test_a_new_job_gets_one_announce_and_a_repeat_none(conn: redis.Redis) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    queue = RQJobQueue(conn, QueuePolicy(prefix=prefix))
    review = spec(1, "a" * 40)
    quiet = spec(2, "b" * 40, announce=None)
    assert [e.new for e in queue.enqueue([review, quiet, review])] == [True, True, False]
    status = Queue(prefix + "status", connection=conn)
    assert status.job_ids == [announce_id(review.job_id)]
    job = Job.fetch(announce_id(review.job_id), connection=conn)
    assert job.func_name == ANNOUNCE_JOB
    assert job.kwargs == {**review.kwargs, "for_job": review.job_id, "kind": "review"}
    assert job.retries_left is None  # never retried: a late announce is worth nothing
    assert queue.depth()["status"] == 1


def test_an_announce_acts_only_while_its_job_waits_and_is_the_newest(conn: redis.Redis) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    queue = RQJobQueue(conn, QueuePolicy(prefix=prefix))
    assert why_not(conn, "review-no-such-job") == "the job is gone"
    first = spec(3, "c" * 40)
    queue.enqueue([first])
    assert why_not(conn, first.job_id) is None
    second = spec(3, "d" * 40)  # a newer head of the same change
    queue.enqueue([second])
    assert why_not(conn, first.job_id) == "superseded by a newer job"
    assert why_not(conn, second.job_id) is None
    job = Job.fetch(second.job_id, connection=conn)
    job.set_status("started")
    assert why_not(conn, second.job_id) == "the job is already started"
    job.set_status("finished")
    assert why_not(conn, second.job_id) == "the job is already finished"


def test_a_starting_job_waits_for_an_announce_in_flight(conn: redis.Redis) -> None:
    job_id = f"review-{uuid.uuid4().hex}"
    lock = conn.lock(LOCK_PREFIX + job_id, timeout=30)
    assert lock.acquire(blocking=False)
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (after_announce(conn, job_id), done.set()))
    waiter.start()
    assert not done.wait(0.5)  # still held: the job does not show its state yet
    lock.release()
    assert done.wait(10)
    waiter.join()
    # nothing in flight: no wait, and the lock is free again for nobody
    after_announce(conn, job_id)
    assert conn.exists(LOCK_PREFIX + job_id) == 0
