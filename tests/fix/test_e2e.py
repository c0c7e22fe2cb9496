"""End to end: a signed `/assist fix` webhook → `assist serve` → Redis → `assist worker` →
test forge (GitHub and GitLab APIs, real git) → scripted model → a draft change whose branch
holds the fix commit, and the run recorded in PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bot.db.engine import upgrade
from tests.fix.conftest import FIXED, MAINTAINER, REPO, World, good_fix, locate
from tests.support.processes import run_worker_burst, serve
from tests.support.webhooks import (
    GITHUB_SECRET,
    GITLAB_TOKEN,
    dumps,
    github_examples,
    github_headers,
    gitlab_headers,
)


@pytest.fixture(scope="module")
def intake(pg_url: str, redis_url: str) -> Iterator[tuple[str, dict[str, str], sa.Engine]]:
    upgrade(pg_url)
    env = {
        "ASSIST_DATABASE_URL": pg_url,
        "ASSIST_REDIS_URL": redis_url,
        "ASSIST_QUEUE_PREFIX": "fixe2e-",
        "ASSIST_GITHUB_WEBHOOK_SECRETS": GITHUB_SECRET,
        "ASSIST_GITLAB_WEBHOOK_TOKENS": GITLAB_TOKEN,
        "ASSIST_BOT_LOGINS": "forge-assist",
        "ASSIST_LOG_LEVEL": "WARNING",
        "ASSIST_JOB_RETRIES": "0",
    }
    engine = sa.create_engine(pg_url)
    with serve(env) as base:
        yield base, env, engine
    engine.dispose()


def github_delivery(corpora: Path, world: World, comment_id: int) -> tuple[bytes, dict[str, str]]:
    payload = next(
        copy.deepcopy(p)
        for name, p in github_examples(corpora)
        if name == "issue_comment" and p["action"] == "created" and "installation" not in p
    )
    owner, name = REPO.split("/")
    payload["repository"].update(full_name=REPO, name=name)
    payload["repository"]["owner"]["login"] = owner
    payload["issue"].update(number=world.issue, state="open", title="total() skips")
    payload["issue"].pop("pull_request", None)
    payload["comment"].update(id=comment_id, body="/assist fix")
    payload["comment"]["user"]["login"] = MAINTAINER
    payload["sender"].update(login=MAINTAINER, type="User")
    body = dumps(payload)
    return body, github_headers("issue_comment", body)


def gitlab_delivery(corpora: Path, world: World, note_id: int) -> tuple[bytes, dict[str, str]]:
    payload: dict[str, Any] = json.loads(
        (corpora / "gitlab" / "webhooks" / "set-a" / "issue-comment.json").read_text()
    )
    payload["project"]["path_with_namespace"] = REPO
    payload["issue"]["iid"] = world.issue
    payload["object_attributes"].update(id=note_id, note="/assist fix", noteable_type="Issue")
    payload["user"]["username"] = MAINTAINER
    return dumps(payload), gitlab_headers("Note Hook")


def test_webhook_to_draft_change_with_a_commit(
    world: World, intake: tuple[str, dict[str, str], sa.Engine], corpora: Path
) -> None:
    base, env, engine = intake
    world.llm.push(locate("shop/cart.py"), good_fix())
    comment = world.command()
    deliver = github_delivery if world.kind == "github" else gitlab_delivery
    body, headers = deliver(corpora, world, comment)
    answer = httpx.post(f"{base}/webhooks/{world.kind}", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    (job_id,) = answer.json()["jobs"]
    run_worker_burst({**env, **world.env()}, "fix", timeout=240)

    with engine.connect() as conn:
        run = conn.execute(
            sa.text("SELECT kind, status, detail FROM job_runs WHERE job_id = :j"), {"j": job_id}
        ).one()
    assert (run.kind, run.status, run.detail["status"]) == ("fix", "done", "opened"), run.detail
    branch = run.detail["branch"]
    assert world.server.refs(REPO)[branch] == run.detail["commit"]
    assert world.server.read(REPO, branch, "shop/cart.py") == FIXED
    (pull,) = world.server.pulls(REPO)
    assert (pull["head"], pull["draft"]) == (branch, True)
    assert f"#{world.issue}" in pull["body"]
    assert any("with a fix" in c for c in world.bot_comments())
    with engine.connect() as conn:
        writes = conn.execute(
            sa.text("SELECT count(*) FROM audit_log WHERE job_id = :j"), {"j": job_id}
        ).scalar_one()
    assert writes >= 3  # reaction, status comment edits, the change: all audited
