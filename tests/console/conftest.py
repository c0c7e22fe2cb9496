"""A real console for the console tests: PostgreSQL, Redis, `assist serve`, workers, a real
OpenID Connect provider (oidc-provider-mock, in a thread) and `assist console` itself."""

from __future__ import annotations

import contextlib
import copy
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from oidc_provider_mock import User, run_server_in_thread

from bot.db.engine import upgrade
from tests.support.processes import ROOT, assist_cmd, assist_env, free_port, wait_http
from tests.support.webhooks import GITHUB_SECRET, dumps, github_examples, github_headers

SESSION_SECRET = "console-session-secret-0123456789abcdef"
OPERATOR = "olivia"
VIEWER = "victor"
NOBODY = "nadia"
ARTIFACTS = ROOT / "test-artifacts" / "console"


@pytest.fixture(scope="session")
def console_pg(pg_url: str) -> str:
    upgrade(pg_url)
    return pg_url


@pytest.fixture(scope="session")
def console_db(console_pg: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(console_pg)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    users = [
        User(sub=OPERATOR, claims={"name": "Olivia Operator", "roles": ["operator"]}),
        User(sub=VIEWER, claims={"name": "Victor Viewer", "roles": ["viewer"]}),
        User(sub=NOBODY, claims={"name": "Nadia Nobody", "roles": ["staff"]}),
    ]
    with run_server_in_thread(require_nonce=True, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="session")
def console_env(console_pg: str, redis_url: str, oidc_issuer: str) -> dict[str, str]:
    return {
        "ASSIST_DATABASE_URL": console_pg,
        "ASSIST_REDIS_URL": redis_url,
        "ASSIST_GITHUB_WEBHOOK_SECRETS": GITHUB_SECRET,
        "ASSIST_LOG_LEVEL": "WARNING",
        "ASSIST_JOB_RETRIES": "0",
        "ASSIST_QUEUE_PREFIX": "console-",
        "ASSIST_LLM_BASE_URLS": "http://127.0.0.1:9/v1",
        "ASSIST_CONSOLE_SESSION_SECRET": SESSION_SECRET,
        "ASSIST_CONSOLE_OIDC_ISSUER": oidc_issuer,
        "ASSIST_CONSOLE_OIDC_CLIENT_ID": "assist-console",
        "ASSIST_CONSOLE_OIDC_CLIENT_SECRET": "console-client-secret-0123456789",
    }


@contextlib.contextmanager
def run_assist(command: str, env: dict[str, str]) -> Iterator[str]:
    """`assist serve` or `assist console` on a free port (a loaded machine may need a while)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        assist_cmd(command, "--port", str(port)),
        env=assist_env({**env, "ASSIST_CONSOLE_PUBLIC_URL": base}),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_http(base + "/healthz", proc=proc, timeout=180)
        except (TimeoutError, RuntimeError):
            log.seek(0)
            raise RuntimeError(f"assist {command} did not start:\n{log.read().decode()}") from None
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def console(console_env: dict[str, str]) -> Iterator[str]:
    with run_assist("console", console_env) as base:
        yield base


@pytest.fixture(scope="session")
def webhook_server(console_env: dict[str, str]) -> Iterator[str]:
    with run_assist("serve", console_env) as base:
        yield base


def pull_request(corpora: Path, number: int, head: str) -> bytes:
    payload: dict[str, Any] = copy.deepcopy(
        next(
            p
            for e, p in github_examples(corpora)
            if e == "pull_request" and p["action"] == "opened" and not p["pull_request"]["draft"]
        )
    )
    payload["number"] = payload["pull_request"]["number"] = number
    payload["pull_request"]["head"]["sha"] = head
    return dumps(payload)


def post_pull_request(server: str, corpora: Path, number: int, head: str) -> dict[str, Any]:
    body = pull_request(corpora, number, head)
    answer = httpx.post(
        server + "/webhooks/github", content=body, headers=github_headers("pull_request", body)
    )
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result


def key_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        assist_cmd("console", "key", *args),
        env=assist_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
