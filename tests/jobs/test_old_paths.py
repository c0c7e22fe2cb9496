"""Jobs queued before the regroup name their function by its old dotted path
(``bot.features.<module>.<job>``); a worker running the new code still runs them."""

from __future__ import annotations

import importlib
import uuid

import redis
import sqlalchemy as sa
from rq import Queue

from bot.intake.routing import JobSpec, QueueName
from bot.jobs.queue import RQJobQueue, queue_policy
from bot.settings import Settings
from tests.support.processes import run_worker_burst

OLD_PATHS = {
    "bot.features.review.review_job": "bot.jobs.review",
    "bot.features.ask.ask_job": "bot.jobs.ask",
    "bot.features.fix.fix_job": "bot.jobs.fix",
    "bot.features.index.index_job": "bot.jobs.index",
    "bot.features.index.forget_pull_job": "bot.jobs.index",
    "bot.features.index.installation_job": "bot.jobs.index",
    "bot.features.usage.usage_job": "bot.jobs.usage",
    "bot.features.feedback.feedback_job": "bot.jobs.feedback",
    "bot.features.feedback.harvest_job": "bot.jobs.feedback",
    "bot.features.feedback.rules_job": "bot.jobs.feedback",
}


def test_every_old_path_is_the_new_function() -> None:
    for old, new_module in OLD_PATHS.items():
        module, _, name = old.rpartition(".")
        assert getattr(importlib.import_module(module), name) is getattr(
            importlib.import_module(new_module), name
        ), old


def test_job_queued_by_old_path_runs_on_new_code(
    intake_env: dict[str, str], redis_url: str, db: sa.Engine
) -> None:
    rds = redis.Redis.from_url(redis_url)
    job_id = f"installation-old-path-{uuid.uuid4().hex}"
    RQJobQueue(rds, queue_policy(Settings())).enqueue(
        [
            JobSpec(
                QueueName.INDEX,
                "bot.features.index.installation_job",  # as queued before the regroup
                job_id,
                {"forge": "github", "repositories": ["octo/old-path"]},
                "installation queued before the regroup",
            )
        ]
    )
    run_worker_burst(intake_env, "index")
    job = Queue("index", connection=rds).fetch_job(job_id)
    assert job is not None
    assert job.get_status() == "finished"
    assert job.return_value() == {"status": "recorded", "repositories": ["octo/old-path"]}
    with db.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM job_runs WHERE job_id = :id"), {"id": job_id}
        ).scalar_one()
    assert status == "done"
