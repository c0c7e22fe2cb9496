"""Fixtures shared by the whole suite: real PostgreSQL, real Redis, the shared corpora.

Each test session gets its own PostgreSQL database and its own Redis database number, so
concurrent sessions on one machine never see each other's rows or queues.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

# Property tests check behaviour, never the machine's speed: no per-example deadline and no
# "too slow" health check (a busy CI machine would fail them at random).
settings.register_profile("assist", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("assist")

pytest_plugins = ["tests.support.vllm", "tests.support.scripted", "tests.testforge.fixtures"]

ROOT = Path(__file__).resolve().parent.parent
CORPORA = Path(os.environ.get("ASSIST_CORPORA", str(ROOT.parent / "shared" / "corpora")))
PG_ADMIN_URL = os.environ.get(
    "ASSIST_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_BASE_URL = os.environ.get("ASSIST_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not (CORPORA / "README.md").is_file():
        pytest.fail(f"corpora not found at {CORPORA}; set ASSIST_CORPORA")
    return CORPORA


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"assist_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _free_redis_db() -> int:
    """Claim a Redis database number no other live session uses (SETNX on db 0)."""
    client = redis.Redis.from_url(f"{REDIS_BASE_URL}/0")
    try:
        dbs = int(client.config_get("databases").get("databases", 16))
    except redis.ResponseError:
        dbs = 16
    for db in range(1, dbs):
        if client.set(f"assist-test-claim:{db}", str(os.getpid()), nx=True, ex=3600):
            return db
    pytest.fail("no free Redis database number for the test session")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database number of its own for this session, flushed before and after."""
    db = _free_redis_db()
    url = f"{REDIS_BASE_URL}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    redis.Redis.from_url(f"{REDIS_BASE_URL}/0").delete(f"assist-test-claim:{db}")
