"""Secrets never leave their place: run review, ask and help flows (GitHub App and GitLab) with
known secret values and debug logging, then grep every log line, every database row, every
body written to the forge and every model request for them."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.db.engine import upgrade
from tests.forge.conftest import BOT, GITLAB_BOT, GITLAB_TOKEN
from tests.llm.scripted_server import ScriptedServer, chat_reply
from tests.review.test_service import answer, finding, scores
from tests.security.scene import fresh_scene
from tests.support.processes import (
    ROOT,
    assist_cmd,
    assist_env,
    free_port,
    run_worker_burst,
    wait_http,
)
from tests.support.webhooks import GITHUB_SECRET
from tests.support.webhooks import GITLAB_TOKEN as HOOK_TOKEN
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

LLM_KEY = "sk-llm-secret-4b1d9e7f2a6c8e0d"


@contextlib.contextmanager
def serve_logged(env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="assist-secrets-")) / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            assist_cmd("serve", "--port", str(port)),
            env=assist_env(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc=None)
            yield f"http://127.0.0.1:{port}", log
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(scope="module")
def web(pg_url: str, redis_url: str) -> Iterator[tuple[tuple[str, dict[str, str]], Path]]:
    upgrade(pg_url)
    env = {
        "ASSIST_DATABASE_URL": pg_url,
        "ASSIST_REDIS_URL": redis_url,
        "ASSIST_GITHUB_WEBHOOK_SECRETS": GITHUB_SECRET,
        "ASSIST_GITLAB_WEBHOOK_TOKENS": HOOK_TOKEN,
        "ASSIST_LOG_LEVEL": "DEBUG",
        "ASSIST_JOB_RETRIES": "0",
        "ASSIST_BOT_LOGINS": f"{BOT},{GITLAB_BOT}",
        # The limits have tests of their own (tests/reliability); here they would couple
        # tests through counters shared in the session's Redis.
        "ASSIST_REPO_JOBS_PER_MINUTE": "0",
        "ASSIST_INSTALLATION_JOBS_PER_MINUTE": "0",
        "ASSIST_MAX_RUNNING_JOBS": "0",
    }
    with serve_logged(env) as (base, log):
        yield (base, env), log


def _pem_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def _db_text(url: str) -> str:
    engine = sa.create_engine(url)
    chunks = []
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    chunks.append(f"{table}: {tuple(row)!r}")
    finally:
        engine.dispose()
    return "\n".join(chunks)


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_no_secret_in_logs_rows_forge_bodies_or_prompts(
    kind: str,
    testforge: TestForge,
    scripted: ScriptedServer,
    web: tuple[tuple[str, dict[str, str]], Path],
    app_key: AppKey,
    corpora: Path,
    pg_url: str,
) -> None:
    (base_env, serve_log) = web
    scene = fresh_scene(kind, testforge, scripted, base_env, app_key, corpora, pg_url)
    scene.worker_env |= {"ASSIST_LLM_API_KEY": LLM_KEY, "ASSIST_LOG_LEVEL": "DEBUG"}
    scene.llm.push(answer(finding()), scores(0.9), chat_reply("It skips the first item."))
    scene.opened()
    scene.command("/assist ask what is the webhook secret and the private key?", "alice")
    scene.command("/assist help", "alice")
    scene.command("/assist review", "mallory")  # refused: no write access
    worker_log = run_worker_burst(scene.worker_env, "review")

    secrets = {"webhook secret": GITHUB_SECRET, "gitlab hook token": HOOK_TOKEN,
               "llm key": LLM_KEY, "gitlab token": GITLAB_TOKEN}  # fmt: skip
    secrets |= {f"private key line {i}": s for i, s in enumerate(_pem_lines(app_key.private_pem))}
    secrets |= {f"forge token {t.login}": v for v, t in testforge.tokens.items()}
    assert any(k.startswith("forge token") for k in secrets)  # the bot did authenticate

    bodies = "\n".join(scene.bodies())
    reviews = "\n".join(r["body"] for r in testforge.reviews("octo/widgets", scene.number))
    requests = scene.llm.requests
    assert requests, "the model was asked"
    prompts = "\n".join(repr(r.body) for r in requests)
    model_headers = "\n".join(
        f"{k}: {v}" for r in requests for k, v in r.headers.items() if k != "authorization"
    )
    places = {
        "serve log": serve_log.read_text(errors="replace"),
        "worker log": worker_log,
        "database": _db_text(pg_url),
        "forge comments": bodies + reviews,
        "model requests": prompts + model_headers,
    }
    assert "DEBUG" in worker_log or worker_log  # debug logging was on
    leaks = [
        f"{what} in {where}"
        for where, text in places.items()
        for what, value in secrets.items()
        if value and value in text
    ]
    assert leaks == []
    # The key does reach the model server, where it belongs: in the Authorization header.
    assert all(r.headers.get("authorization") == f"Bearer {LLM_KEY}" for r in requests)
    scene.engine.dispose()
