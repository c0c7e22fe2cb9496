"""Jobs whose process dies under them are retried or end failed-and-visible in job_runs,
never left `running`: a killed work horse, and a whole worker SIGKILLed mid-job (RQ's
registry sweep finds the job abandoned after the heartbeat grace)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis

from bot.db.engine import upgrade
from bot.intake.routing import JobSpec, QueueName
from bot.jobs.queue import QueuePolicy, RQJobQueue
from tests.support.processes import ROOT, assist_cmd, assist_env, run_worker_burst


@pytest.fixture(scope="module")
def db(pg_url: str) -> Iterator[sa.Engine]:
    upgrade(pg_url)
    engine = sa.create_engine(pg_url)
    yield engine
    engine.dispose()


def env(pg_url: str, redis_url: str, prefix: str, retries: int) -> dict[str, str]:
    return {
        "ASSIST_DATABASE_URL": pg_url,
        "ASSIST_REDIS_URL": redis_url,
        "ASSIST_QUEUE_PREFIX": prefix,
        "ASSIST_JOB_RETRIES": str(retries),
        "ASSIST_JOB_RETRY_BACKOFF_S": "0",
        "ASSIST_JOB_HEARTBEAT_S": "1",
        "ASSIST_JOB_ABANDON_GRACE_S": "2",
        "ASSIST_WORKER_MAINTENANCE_S": "1",
        "ASSIST_LOG_LEVEL": "WARNING",
    }


def enqueue(redis_url: str, prefix: str, func: str, retries: int, **kwargs: str) -> str:
    job_id = f"test-{uuid.uuid4().hex}"
    queue = RQJobQueue(
        Redis.from_url(redis_url), QueuePolicy(prefix=prefix, retries=retries, backoff_s=(0,))
    )
    spec = JobSpec(queue=QueueName.REVIEW, func=func, job_id=job_id, kwargs=kwargs,
                   description=func)  # fmt: skip
    queue.enqueue([spec])
    return job_id


def run_of(db: sa.Engine, job_id: str) -> tuple[str, int, str] | None:
    with db.connect() as conn:
        row = conn.execute(
            sa.text("SELECT status, attempts, error FROM job_runs WHERE job_id = :j"),
            {"j": job_id},
        ).one_or_none()
    return None if row is None else (row.status, row.attempts, row.error)


def test_a_killed_work_horse_leaves_a_failed_visible_run(
    db: sa.Engine, pg_url: str, redis_url: str
) -> None:
    prefix = f"lost-{uuid.uuid4().hex[:6]}-"
    job_id = enqueue(redis_url, prefix, "tests.reliability.jobs.killed_job", 0)
    run_worker_burst(env(pg_url, redis_url, prefix, 0), "review")
    run = run_of(db, job_id)
    assert run is not None
    status, attempts, error = run
    assert (status, attempts) == ("failed", 1)
    assert "work horse died" in error


@pytest.mark.parametrize("retries", [0, 1])
def test_a_job_of_a_sigkilled_worker_is_found_and_retried_or_failed(
    db: sa.Engine, pg_url: str, redis_url: str, tmp_path: Path, retries: int
) -> None:
    prefix = f"lost-{uuid.uuid4().hex[:6]}-"
    flag = tmp_path / "started"
    job_id = enqueue(redis_url, prefix, "tests.reliability.jobs.slow_once_job", retries,
                     flag=str(flag))  # fmt: skip
    worker_env = env(pg_url, redis_url, prefix, retries)
    worker = subprocess.Popen(
        assist_cmd("worker", "--queue", "review"), env=assist_env(worker_env), cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while not (flag.exists() and run_of(db, job_id)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run_of(db, job_id) is not None
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker, its work horse, its scheduler
        worker.wait(10)
    assert run_of(db, job_id) == ("running", 1, "")  # nobody told the database
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(1.5)  # past the heartbeat and its grace
        run_worker_burst(worker_env, "review")
        run = run_of(db, job_id)
        if run is not None and run[0] != "running":
            break
    if retries:
        assert run == ("done", 2, "")
    else:
        assert run is not None
        assert run[0] == "failed"
        assert "abandoned" in run[2]
