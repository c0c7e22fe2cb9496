"""A job popped by a worker that dies before starting it is QUEUED in no queue and no
registry; the worker's sweep puts it back once, and it runs exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from bot.db.engine import upgrade
from bot.jobs.orphans import sweep_orphans
from tests.reliability.test_lost_jobs import enqueue, env, run_of
from tests.support.processes import ROOT, assist_env, run_worker_burst


@pytest.fixture(scope="module")
def db(pg_url: str) -> Iterator[sa.Engine]:
    upgrade(pg_url)
    engine = sa.create_engine(pg_url)
    yield engine
    engine.dispose()


def wait_for(condition: object, what: str, *, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


@pytest.mark.timeout(1200)  # it waits for conditions; the cap only catches a hang
def test_a_worker_killed_between_dequeue_and_start_loses_nothing(
    db: sa.Engine, pg_url: str, redis_url: str
) -> None:
    redis = Redis.from_url(redis_url)
    prefix = f"orphan-{uuid.uuid4().hex[:6]}-"
    counter = f"{prefix}runs"
    mark = f"{prefix}popped"
    job_id = enqueue(redis_url, prefix, "tests.reliability.jobs.counted_job", 1, counter=counter)
    stalled = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.stall_worker", redis_url, mark,
         f"{prefix}review", f"{prefix}fix"],
        env=assist_env({}), cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: redis.get(mark) is not None, "the worker to pop the job")
    finally:
        os.killpg(stalled.pid, signal.SIGKILL)
        stalled.wait(10)
    assert redis.get(mark) == job_id.encode()
    queue = Queue(f"{prefix}review", connection=redis)
    job = Job.fetch(job_id, connection=redis)
    # The state RQ cannot recover by itself: QUEUED, yet in no queue and no registry.
    assert job.get_status() == JobStatus.QUEUED
    assert job_id not in queue.get_job_ids()
    assert job_id not in queue.started_job_registry
    assert run_of(db, job_id) is None

    worker_env = env(pg_url, redis_url, prefix, 1)
    outputs = []
    while run_of(db, job_id) is None or run_of(db, job_id) == ("running", 1, ""):
        # First sweep notes the orphan; one past the grace (2 s) re-enqueues it and runs it.
        outputs.append(run_worker_burst(worker_env, "review", "fix"))
        assert len(outputs) < 60, "\n".join(outputs)
        time.sleep(0.5)
    assert run_of(db, job_id) == ("done", 1, "")
    assert redis.get(counter) == b"1"
    for _ in range(3):  # later sweeps leave the finished job alone
        run_worker_burst(worker_env, "review", "fix")
    assert redis.get(counter) == b"1"
    assert Job.fetch(job_id, connection=redis).get_status() == JobStatus.FINISHED


def test_the_sweep_requeues_an_orphan_once_after_its_grace(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    prefix = f"sweep-{uuid.uuid4().hex[:6]}-"
    orphan = enqueue(redis_url, prefix, "tests.reliability.jobs.counted_job", 0, counter="x")
    waiting = enqueue(redis_url, prefix, "tests.reliability.jobs.counted_job", 0, counter="x")
    queue = Queue(f"{prefix}review", connection=redis)
    assert redis.lpop(queue.key) == orphan.encode()  # a worker popped it, then died

    first = sweep_orphans(redis, queue, grace_s=3600)
    assert (first.suspects, first.requeued) == ((orphan,), ())
    assert sweep_orphans(redis, queue, grace_s=3600).requeued == ()  # still within grace
    assert queue.get_job_ids() == [waiting]

    assert sweep_orphans(redis, queue, grace_s=0).requeued == (orphan,)
    assert queue.get_job_ids() == [orphan, waiting]
    again = sweep_orphans(redis, queue, grace_s=0)
    assert (again.suspects, again.requeued) == ((), ())
    assert queue.get_job_ids() == [orphan, waiting]


def test_a_retry_restarts_the_grace(redis_url: str) -> None:
    """A suspect re-enqueued by someone else (a retry) and orphaned again is a new case."""
    redis = Redis.from_url(redis_url)
    prefix = f"sweep-{uuid.uuid4().hex[:6]}-"
    job_id = enqueue(redis_url, prefix, "tests.reliability.jobs.counted_job", 0, counter="x")
    queue = Queue(f"{prefix}review", connection=redis)
    redis.lpop(queue.key)
    assert sweep_orphans(redis, queue, grace_s=0).suspects == (job_id,)
    queue.enqueue_job(Job.fetch(job_id, connection=redis))  # enqueued_at moves on
    redis.lpop(queue.key)
    again = sweep_orphans(redis, queue, grace_s=0)
    assert (again.suspects, again.requeued) == ((job_id,), ())
