"""Queued jobs run on a real `assist worker`, are recorded, and failures can be requeued."""

from __future__ import annotations

import copy
import subprocess
import uuid
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa
from rq import Queue
from rq.registry import FailedJobRegistry

from tests.support.processes import ROOT, assist_cmd, assist_env, run_worker_burst
from tests.support.webhooks import dumps, github_examples, github_headers


def _pull(corpora: Path, number: int, head: str, action: str = "opened") -> bytes:
    payload = copy.deepcopy(
        next(
            p
            for e, p in github_examples(corpora)
            if e == "pull_request" and p["action"] == "opened" and not p["pull_request"]["draft"]
        )
    )
    payload["number"] = payload["pull_request"]["number"] = number
    payload["pull_request"]["head"]["sha"] = head
    payload["action"] = action
    return dumps(payload)


def test_worker_runs_and_records_jobs(
    server: str, intake_env: dict[str, str], corpora: Path, db: sa.Engine
) -> None:
    first = _pull(corpora, 7001, "1" * 40)
    jobs = httpx.post(
        server + "/webhooks/github", content=first, headers=github_headers("pull_request", first)
    ).json()["jobs"]
    newer = _pull(corpora, 7001, "2" * 40, action="synchronize")
    newer_jobs = httpx.post(
        server + "/webhooks/github", content=newer, headers=github_headers("pull_request", newer)
    ).json()["jobs"]
    run_worker_burst(intake_env, "review", "index", "fix")
    with db.connect() as conn:
        rows = {
            r.job_id: r
            for r in conn.execute(
                sa.text(
                    "SELECT job_id, kind, status, attempts, repo, number, head_sha, detail "
                    "FROM job_runs WHERE number = 7001"
                )
            )
        }
    # The superseded review did no work and says why; the newer one ran once.
    assert (rows[jobs[0]].status, rows[jobs[0]].detail["status"]) == ("superseded", "superseded")
    # The newer one ran once; with no forge credentials configured it failed, and says why
    # (the review itself, against a forge, is tested in tests/review/test_job_e2e.py).
    run = rows[newer_jobs[0]]
    assert (run.kind, run.status, run.attempts, run.head_sha) == ("review", "failed", 1, "2" * 40)
    with db.connect() as conn:
        error = conn.execute(
            sa.text("SELECT error FROM job_runs WHERE job_id = :j"), {"j": newer_jobs[0]}
        ).scalar_one()
    assert "no GitHub credentials" in error


def test_failed_job_is_kept_listed_and_requeued(intake_env: dict[str, str], redis_url: str) -> None:
    rds = redis.Redis.from_url(redis_url)
    queue = Queue("fix", connection=rds)
    job_id = f"broken-{uuid.uuid4().hex}"
    # A job that fails for real: its function does not exist (as after a bad deploy).
    queue.enqueue_call(
        "bot.intake.routes.fix.no_such_job",
        kwargs={"number": 1},
        job_id=job_id,
        description="a job whose function is gone",
    )
    run_worker_burst(intake_env, "fix")
    assert job_id in FailedJobRegistry(queue=queue)

    env = assist_env(intake_env)
    listed = subprocess.run(
        assist_cmd("jobs", "list", "--status", "failed"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in listed.stdout.splitlines() if x.startswith(job_id))
    assert "fix" in line
    assert "no_such_job" in line

    retried = subprocess.run(
        assist_cmd("jobs", "retry", job_id),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert retried.stdout.strip() == job_id
    assert job_id not in FailedJobRegistry(queue=queue)
    assert job_id in queue.get_job_ids()
    missing = subprocess.run(
        assist_cmd("jobs", "retry", "no-such-job"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1
    assert "no-such-job" in missing.stderr
    queue.remove(job_id)


def test_failing_job_is_retried_per_policy(intake_env: dict[str, str], redis_url: str) -> None:
    env = {**intake_env, "ASSIST_JOB_RETRIES": "2", "ASSIST_JOB_RETRY_BACKOFF_S": "0"}
    rds = redis.Redis.from_url(redis_url)
    queue = Queue("fix", connection=rds)
    job_id = f"flaky-{uuid.uuid4().hex}"
    # Enqueued the way intake does, so the worker applies the configured retry policy.
    from bot.intake.routing import JobSpec, QueueName
    from bot.jobs.queue import RQJobQueue, queue_policy
    from bot.settings import Settings

    settings = Settings(job_retries=2, job_retry_backoff_s=[0])
    RQJobQueue(rds, queue_policy(settings)).enqueue(
        [
            JobSpec(
                QueueName.FIX, "bot.intake.routes.fix.no_such_job", job_id, {"number": 1}, "flaky"
            )
        ]
    )
    run_worker_burst(env, "fix")
    job = queue.fetch_job(job_id)
    assert job is not None
    assert job.retries_left == 0  # the first run failed, then both retries did
    assert job.get_status() == "failed"
    assert job_id in FailedJobRegistry(queue=queue)
    FailedJobRegistry(queue=queue).remove(job_id, delete_job=True)
