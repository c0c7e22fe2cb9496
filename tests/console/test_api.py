"""The console's JSON API on a real `assist console`: API keys from `assist console key`,
hashed at rest, refused when missing, wrong or revoked; operators act, viewers may not."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import httpx
import sqlalchemy as sa

from bot.db.models import Delivery, JobRun
from tests.console.conftest import key_cli


def _seed(db: sa.Engine, repo: str) -> str:
    job_id = f"review-{uuid.uuid4().hex}"
    now = dt.datetime.now(dt.UTC)
    with db.begin() as conn:
        conn.execute(
            sa.insert(JobRun).values(
                job_id=job_id,
                kind="review",
                forge="github",
                repo=repo,
                number=5,
                head_sha="a" * 40,
                status="done",
                attempts=1,
                error="",
                detail={"status": "posted"},
                usage={"prompt_tokens": 1200, "completion_tokens": 300, "latency_s": 2.5},
                started_at=now - dt.timedelta(seconds=3),
                finished_at=now,
            )
        )
        conn.execute(
            sa.insert(Delivery).values(
                forge="github",
                delivery_id=str(uuid.uuid4()),
                event="pull_request.opened",
                repo=repo,
                outcome="queued",
                reason="",
                status_code=202,
                job_ids=[job_id],
                body_bytes=10,
                body_sha256="0" * 64,
                received_at=now - dt.timedelta(seconds=10),
            )
        )
    return job_id


def _key(env: dict[str, str], name: str, role: str) -> str:
    made = key_cli(env, "create", name, "--role", role)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("fa_")
    assert "not shown again" in made.stderr
    return key


def test_api_keys_roles_and_revocation(
    console: str, console_env: dict[str, str], console_db: sa.Engine
) -> None:
    repo = f"api-{uuid.uuid4().hex[:6]}/svc"
    job_id = _seed(console_db, repo)

    schema = httpx.get(console + "/api/openapi.json").json()
    assert {"/api/deliveries", "/api/jobs", "/api/jobs/{job_id}/retry", "/api/costs"} <= set(
        schema["paths"]
    )
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"

    bare = httpx.get(console + "/api/jobs")
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == "Bearer"
    wrong = httpx.get(console + "/api/jobs", headers={"Authorization": "Bearer fa_not-a-key"})
    assert wrong.status_code == 401

    name = f"ci-{uuid.uuid4().hex[:6]}"
    key = _key(console_env, name, "operator")
    auth = {"Authorization": f"Bearer {key}"}
    jobs = httpx.get(console + "/api/jobs", params={"repo": repo}, headers=auth)
    assert jobs.status_code == 200
    assert [j["job_id"] for j in jobs.json()] == [job_id]
    deliveries = httpx.get(console + "/api/deliveries", params={"repo": repo}, headers=auth)
    assert deliveries.json()[0]["job_ids"] == [job_id]
    costs = httpx.get(
        console + "/api/costs", params={"repo": repo, "by": "kind"}, headers=auth
    ).json()
    assert costs == [
        {
            "key": "review",
            "jobs": 1,
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "model_seconds": 2.5,
        }
    ]
    change = httpx.get(
        console + "/api/change", params={"forge": "github", "repo": repo, "number": 5}, headers=auth
    ).json()
    assert [e["what"] for e in change["events"]] == ["delivery", "job"]
    health = httpx.get(console + "/api/health", headers=auth).json()
    checks = {c["name"]: c for c in health["checks"]}
    assert checks["database"]["ok"]
    assert checks["redis"]["ok"]
    assert not checks["model"]["ok"]  # nothing listens on the configured replica
    assert {q["queue"] for q in health["queues"]} == {
        "console-index",
        "console-review",
        "console-fix",
        "console-status",
    }

    # Bad filters are refused with a reason, not ignored.
    bad = httpx.get(console + "/api/jobs", params={"forge": "bitbucket"}, headers=auth)
    assert bad.status_code == 400
    assert "forge must be one of" in bad.json()["detail"]

    # An operator may act; a job that is not failed has nothing to retry.
    acted = httpx.post(console + f"/api/jobs/{job_id}/retry", headers=auth)
    assert acted.status_code == 200
    assert acted.json()["done"] is False
    unknown = httpx.post(console + "/api/jobs/review-unknown/retry", headers=auth)
    assert unknown.status_code == 404

    viewer = _key(console_env, f"dash-{uuid.uuid4().hex[:6]}", "viewer")
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    assert httpx.get(console + f"/api/jobs/{job_id}", headers=as_viewer).status_code == 200
    refused = httpx.post(console + f"/api/jobs/{job_id}/retry", headers=as_viewer)
    assert refused.status_code == 403

    # At rest: the hash, never the key; `key list` shows the prefix only.
    with console_db.connect() as conn:
        row = conn.execute(
            sa.text("SELECT * FROM console_api_keys WHERE name = :n"), {"n": name}
        ).one()
    assert row.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert key not in " ".join(str(v) for v in row)
    assert row.last_used_at is not None
    listed = key_cli(console_env, "list")
    assert name in listed.stdout
    assert key not in listed.stdout

    revoked = key_cli(console_env, "revoke", name)
    assert revoked.returncode == 0
    assert httpx.get(console + "/api/jobs", headers=auth).status_code == 401
    assert key_cli(console_env, "revoke", "no-such-key").returncode == 1
    assert key_cli(console_env, "create", name, "--role", "operator").returncode == 2
    assert key_cli(console_env, "create", "x", "--role", "admin").returncode == 2
