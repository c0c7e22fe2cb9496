"""`assist doctor` against real parts: PostgreSQL/SQLite, Redis with RQ workers registered, the
scripted model server, the local embedding model, the test forge (GitHub App and GitLab) and
bubblewrap. Green on the test setup; red, with the right fix, for each thing that can be wrong.
"""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr
from rq import Queue, Worker

from bot.db.engine import upgrade
from bot.intake.routing import QueueName
from bot.jobs.queue import queue_name, queue_policy
from bot.jobs.worker import status_first
from bot.ops.doctor import (
    Check,
    check_database,
    check_forges,
    check_model_server,
    check_redis_and_workers,
    check_sandbox,
    run_checks,
    sandbox_problem,
)
from bot.settings import Settings
from tests.forge.conftest import APP_ID, GITLAB_BOT, GITLAB_TOKEN, REPO
from tests.llm.scripted_server import ScriptedServer, dead_url
from tests.support.processes import ROOT, assist_cmd, assist_env
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

SECRET = "doctor-webhook-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def migrated(pg_url: str) -> str:
    upgrade(pg_url)
    return pg_url


@pytest.fixture
def workers(redis_url: str) -> Iterator[list[Worker]]:
    """One RQ worker registered per queue but ``fix`` (registered as live workers are)."""
    conn = redis.Redis.from_url(redis_url)
    policy = queue_policy(Settings(redis_url=redis_url))
    made = []
    for q in (QueueName.INDEX, QueueName.REVIEW):
        # as `assist worker -q Q` registers: the status queue first, then Q
        queues = [Queue(queue_name(policy, n), connection=conn) for n in status_first([q])]
        worker = Worker(queues, connection=conn)
        worker.register_birth()
        made.append(worker)
    yield made
    for worker in made:
        worker.register_death()


def settings_for(
    tmp_path: Path,
    db: str,
    redis_url: str,
    llm: ScriptedServer,
    forge: TestForge | None = None,
    app_key: AppKey | None = None,
    **extra: object,
) -> Settings:
    values: dict[str, object] = {
        "database_url": db,
        "redis_url": redis_url,
        "github_webhook_secrets": [SecretStr(SECRET)],
        "gitlab_webhook_tokens": [SecretStr(SECRET)],
        "llm_base_urls": [llm.base_url],
        "llm_model": "scripted",
        "llm_context_tokens": 16000,
        "qdrant_location": str(tmp_path / "qdrant"),
    }
    if forge is not None and app_key is not None:
        values |= {
            "github_api_url": forge.github_api_url,
            "github_app_id": APP_ID,
            "github_private_key": SecretStr(app_key.private_pem),
            "gitlab_url": forge.gitlab_url,
            "gitlab_token": SecretStr(GITLAB_TOKEN),
        }
    return Settings.model_validate(values | extra)


def failing(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks if not c.ok}


@pytest.fixture
def forge(testforge: TestForge, app_key: AppKey) -> TestForge:
    testforge.create_repo(REPO, files={"README.md": "# w\n"})
    testforge.add_app(APP_ID, app_key.public_pem)
    testforge.add_installation(APP_ID, [REPO])
    testforge.add_user(GITLAB_BOT, token=GITLAB_TOKEN)
    testforge.set_permission(REPO, GITLAB_BOT, "maintain")
    return testforge


def test_green_on_the_test_setup_but_for_the_queue_without_a_worker(
    tmp_path: Path,
    migrated: str,
    redis_url: str,
    scripted: ScriptedServer,
    forge: TestForge,
    app_key: AppKey,
    workers: list[Worker],
) -> None:
    scripted.max_model_len = 16000
    settings = settings_for(tmp_path, migrated, redis_url, scripted, forge, app_key)
    checks = run_checks(settings)
    names = [c.name for c in checks]
    for expected in (
        "settings", "database", "redis", "workers: index", "workers: review", "model server",
        "model context", "model answers", "embeddings", "qdrant", "sandbox",
        "github credentials", "github permissions", "github webhook deliveries",
        "gitlab credentials", "gitlab permissions",
    ):  # fmt: skip
        assert expected in names
    bad = failing(checks)
    if sandbox_problem() is not None:  # a machine without user namespaces: its own test below
        bad.pop("sandbox")
    # No worker listens on the fix queue: the only red row, with the command that fixes it.
    assert list(bad) == ["workers: fix"]
    assert "assist worker -q fix" in bad["workers: fix"].fix
    text = json.dumps([c.as_dict() for c in checks])
    assert GITLAB_TOKEN not in text
    assert SECRET not in text
    assert "PRIVATE KEY" not in text


def test_model_down(
    tmp_path: Path, migrated: str, redis_url: str, scripted: ScriptedServer
) -> None:
    dead = dead_url()
    settings = settings_for(tmp_path, migrated, redis_url, scripted, llm_base_urls=[dead])
    (bad,) = check_model_server(settings)
    assert not bad.ok
    assert dead in bad.detail
    assert "not reachable" in bad.detail
    assert "start the model server" in bad.fix


def test_wrong_served_model(
    tmp_path: Path, migrated: str, redis_url: str, scripted: ScriptedServer
) -> None:
    scripted.served = ["qwen2.5-coder-32b"]
    (bad,) = check_model_server(settings_for(tmp_path, migrated, redis_url, scripted))
    assert "serves qwen2.5-coder-32b, not scripted" in bad.detail
    assert "ASSIST_LLM_MODEL" in bad.fix


def test_context_length_mismatch(
    tmp_path: Path, migrated: str, redis_url: str, scripted: ScriptedServer
) -> None:
    scripted.max_model_len = 2048
    checks = check_model_server(settings_for(tmp_path, migrated, redis_url, scripted))
    bad = failing(checks)
    assert list(bad) == ["model context"]
    assert "2048" in bad["model context"].detail
    assert bad["model context"].fix == "set ASSIST_LLM_CONTEXT_TOKENS=2048"


def test_missing_migration(tmp_path: Path, redis_url: str, scripted: ScriptedServer) -> None:
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    (bad,) = check_database(settings_for(tmp_path, db, redis_url, scripted))
    assert not bad.ok
    assert "no schema" in bad.detail
    assert bad.fix == "run `assist db upgrade`"
    upgrade(db)
    (good,) = check_database(settings_for(tmp_path, db, redis_url, scripted))
    assert good.ok


def test_no_worker_at_all(
    tmp_path: Path, migrated: str, redis_url: str, scripted: ScriptedServer
) -> None:
    checks = check_redis_and_workers(settings_for(tmp_path, migrated, redis_url, scripted))
    assert set(failing(checks)) == {
        "workers: index", "workers: review", "workers: fix", "workers: status"
    }  # fmt: skip


def test_forge_token_lacking_a_permission(
    tmp_path: Path,
    migrated: str,
    redis_url: str,
    scripted: ScriptedServer,
    forge: TestForge,
    app_key: AppKey,
) -> None:
    read_only = forge.add_user("reader", token="glpat-read-only-token", read_only=True)
    settings = settings_for(
        tmp_path, migrated, redis_url, scripted, forge, app_key, gitlab_token=SecretStr(read_only)
    )
    bad = failing(check_forges(settings))
    assert list(bad) == ["gitlab permissions"]
    assert "read_api" in bad["gitlab permissions"].detail
    assert "api scope" in bad["gitlab permissions"].fix
    # A refused token is a credentials failure, named with the forge's answer.
    wrong = settings.model_copy(update={"gitlab_token": SecretStr("glpat-nobody")})
    bad = failing(check_forges(wrong))
    assert "HTTP 401" in bad["gitlab credentials"].detail


def test_failed_webhook_deliveries_are_red(
    tmp_path: Path,
    migrated: str,
    redis_url: str,
    scripted: ScriptedServer,
    forge: TestForge,
    app_key: AppKey,
) -> None:
    forge.hook_deliveries.append({"id": 1, "event": "pull_request", "status_code": 401})
    settings = settings_for(tmp_path, migrated, redis_url, scripted, forge, app_key)
    bad = failing(check_forges(settings))
    assert list(bad) == ["github webhook deliveries"]
    assert "HTTP 401" in bad["github webhook deliveries"].detail
    assert "ASSIST_GITHUB_WEBHOOK_SECRETS" in bad["github webhook deliveries"].fix


def test_sandbox_unavailable(tmp_path: Path) -> None:
    settings = Settings()
    (missing,) = check_sandbox(settings, bwrap=str(tmp_path / "no-bwrap"))
    assert not missing.ok
    assert "is not installed" in missing.detail
    assert "apt-get install -y bubblewrap" in missing.fix
    # Installed, but the kernel refuses it a namespace (as in many containers).
    refusing = tmp_path / "bwrap"
    refusing.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\n"
                        "exit 1\n")  # fmt: skip
    refusing.chmod(refusing.stat().st_mode | stat.S_IEXEC)
    (refused,) = check_sandbox(settings, bwrap=str(refusing))
    assert "No permissions to create new namespace" in refused.detail
    assert "unprivileged_userns" in refused.fix


def test_cli_json_and_exit_status(tmp_path: Path, redis_url: str) -> None:
    dead = dead_url()
    env = assist_env(
        {
            "ASSIST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "ASSIST_REDIS_URL": redis_url,
            "ASSIST_GITHUB_WEBHOOK_SECRETS": SECRET,
            "ASSIST_LLM_BASE_URLS": dead,
            "ASSIST_QDRANT_LOCATION": str(tmp_path / "q"),
        }
    )
    done = subprocess.run(
        assist_cmd("doctor", "--json"), env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert set(checks["database"]) == {"name", "ok", "detail", "fix"}
    assert checks["database"]["ok"] is False
    assert checks["model server"]["ok"] is False
    assert dead in checks["model server"]["detail"]
    assert checks["settings"]["ok"] is True
