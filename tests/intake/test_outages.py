"""Redis or PostgreSQL unavailable: 503 so the forge retries, and nothing is lost or doubled."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import sqlalchemy as sa
from rq import Queue

from tests.support.processes import PrivateRedis, free_port, serve
from tests.support.webhooks import dumps, github_examples, github_headers


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.close()


def test_redis_killed_then_back(
    intake_env: dict[str, str], private_redis: PrivateRedis, corpora: Path, db: sa.Engine
) -> None:
    env = {**intake_env, "ASSIST_REDIS_URL": private_redis.url}
    payload = copy.deepcopy(
        next(
            p
            for e, p in github_examples(corpora)
            if e == "pull_request" and p["action"] == "opened" and not p["pull_request"]["draft"]
        )
    )
    payload["number"] = payload["pull_request"]["number"] = 6001
    body = dumps(payload)
    delivery = str(uuid.uuid4())
    headers = github_headers("pull_request", body, delivery=delivery)
    with serve(env) as base:
        assert httpx.get(base + "/readyz").status_code == 200
        private_redis.stop()
        down = httpx.post(base + "/webhooks/github", content=body, headers=headers, timeout=60)
        assert down.status_code == 503, down.text
        assert down.headers["Retry-After"]
        ready = httpx.get(base + "/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["redis"].startswith("unavailable")
        with db.connect() as conn:
            outcome = conn.execute(
                sa.text("SELECT outcome FROM deliveries WHERE delivery_id = :d"), {"d": delivery}
            ).scalar()
        assert outcome == "unavailable"

        private_redis.start()
        retried = httpx.post(base + "/webhooks/github", content=body, headers=headers, timeout=60)
        assert retried.status_code == 202, retried.text
        again = httpx.post(base + "/webhooks/github", content=body, headers=headers, timeout=60)
        assert again.status_code == 200
        assert again.json()["duplicate"]
        rds = redis.Redis.from_url(private_redis.url)
        queued = Queue("review", connection=rds).get_job_ids()
        assert queued == retried.json()["jobs"]


def test_database_unreachable_answers_503(intake_env: dict[str, str], corpora: Path) -> None:
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    env = {**intake_env, "ASSIST_DATABASE_URL": dead}
    event, payload = next((e, p) for e, p in github_examples(corpora) if e == "pull_request")
    body = dumps(payload)
    with serve(env) as base:
        answer = httpx.post(
            base + "/webhooks/github", content=body, headers=github_headers(event, body), timeout=60
        )
        assert answer.status_code == 503, answer.text
        ready = httpx.get(base + "/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["database"].startswith("unavailable")
