"""The console app in this process (so coverage sees it), on the session's real PostgreSQL and
Redis: the JSON API, /metrics, and what a signed-out browser gets."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bot.console.apikeys import create_key, revoke_key
from bot.console.app import create_app, forge_web_url
from bot.db.models import JobRun, PostedFinding
from bot.runtime import Services, make_redis
from bot.settings import Settings, validate_for_console
from tests.console.conftest import SESSION_SECRET


@pytest.fixture(scope="module")
def client(console_pg: str, redis_url: str) -> TestClient:
    settings = Settings(
        database_url=console_pg,
        redis_url=redis_url,
        queue_prefix="inproc-",
        llm_base_urls=["http://127.0.0.1:9/v1"],
        console_session_secret=SESSION_SECRET,
        console_oidc_issuer="http://127.0.0.1:9",
        console_oidc_client_id="assist-console",
        console_viewer_repos=["inproc/*"],
    )
    validate_for_console(settings)
    services = Services(engine=sa.create_engine(console_pg), redis=make_redis(redis_url))
    return TestClient(create_app(settings, services), follow_redirects=False)


def test_api_metrics_and_signed_out_pages(client: TestClient, console_db: sa.Engine) -> None:
    job_id = f"fix-{uuid.uuid4().hex}"
    with console_db.begin() as conn:
        conn.execute(
            sa.insert(JobRun).values(
                job_id=job_id,
                kind="fix",
                forge="gitlab",
                repo="inproc/app",
                number=2,
                status="failed",
                attempts=2,
                error="RuntimeError: token glpat-abcdefghijklmnopqrst",
                detail={},
                usage={},
                started_at=sa.func.now(),
                finished_at=sa.func.now(),
            )
        )
        conn.execute(
            sa.insert(JobRun).values(
                job_id=f"fix-{uuid.uuid4().hex}",
                kind="fix",
                forge="gitlab",
                repo="elsewhere/app",
                status="failed",
                attempts=1,
                error="",
                detail={},
                usage={},
            )
        )
    key, _ = create_key(console_db, f"inproc-{uuid.uuid4().hex[:6]}", "viewer")
    auth = {"Authorization": f"Bearer {key}"}

    jobs = client.get("/api/jobs", params={"status": "failed", "kind": "fix"}, headers=auth)
    assert jobs.status_code == 200
    # The viewer's allow-list (inproc/*) hides the other repository.
    assert {j["repo"] for j in jobs.json()} == {"inproc/app"}
    (row,) = [j for j in jobs.json() if j["job_id"] == job_id]
    assert "glpat-" not in row["error"]
    assert "[redacted]" in row["error"]
    detail = client.get(f"/api/jobs/{job_id}", headers=auth).json()
    assert detail["state"] is None  # never enqueued in this Redis
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=auth).status_code == 403
    assert client.get("/api/repositories", headers=auth).json()[0]["repo"] == "inproc/app"
    assert client.get("/api/costs", params={"by": "repo"}, headers=auth).status_code == 200
    assert client.get("/api/costs", params={"by": "nope"}, headers=auth).status_code == 422
    assert client.get("/api/jobs", params={"since": "yesterday"}, headers=auth).status_code == 400
    assert (
        client.get(
            "/api/change",
            params={"forge": "gitlab", "repo": "elsewhere/app", "number": 1},
            headers=auth,
        ).status_code
        == 404
    )
    health = client.get("/api/health", headers=auth).json()
    assert {c["name"] for c in health["checks"]} >= {
        "database",
        "redis",
        "model",
        "qdrant",
        "sandbox",
    }
    revoke_key(console_db, _name(console_db, key))
    assert client.get("/api/jobs", headers=auth).status_code == 401

    metrics = client.get("/metrics").text
    assert 'assist_job_runs{kind="fix",status="failed"}' in metrics
    assert "inproc/app" not in metrics

    page = client.get("/jobs?status=failed")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fjobs%3Fstatus%3Dfailed"
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    forged = client.post(f"/jobs/{job_id}/retry", data={"csrf": "x"})
    assert forged.status_code == 401  # no session at all
    assert client.get("/static/console.css").status_code == 200
    assert "/api/jobs" in client.get("/api/openapi.json").json()["paths"]


def _name(db: sa.Engine, key: str) -> str:
    import hashlib

    with db.connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT name FROM console_api_keys WHERE key_sha256 = :h"),
                {"h": hashlib.sha256(key.encode()).hexdigest()},
            ).scalar_one()
        )


def test_forge_links() -> None:
    s = Settings()
    assert forge_web_url(s, "github", "o/r", 3) == "https://github.com/o/r/pull/3"
    ghe = Settings(github_api_url="https://ghe.example.com/api/v3")
    assert forge_web_url(ghe, "github", "o/r", None) == "https://ghe.example.com/o/r"
    assert forge_web_url(s, "gitlab", "g/p", 4) == "https://gitlab.com/g/p/-/merge_requests/4"
    assert forge_web_url(s, None, "o/r", 1) == ""


def test_operator_cancels_a_waiting_job(
    client: TestClient, console_db: sa.Engine, redis_url: str
) -> None:
    from rq import Queue

    job_id = f"fix-{uuid.uuid4().hex}"
    with console_db.begin() as conn:
        conn.execute(
            sa.insert(JobRun).values(
                job_id=job_id,
                kind="fix",
                forge="gitlab",
                repo="inproc/app",
                status="deferred",
                attempts=1,
                error="",
                detail={"limit": "repository rate"},
                usage={},
            )
        )
    rds = make_redis(redis_url)
    queue = Queue("inproc-fix", connection=rds)
    queue.enqueue_call("bot.intake.routes.fix.no_such_job", job_id=job_id, description="waiting")
    key, _info = create_key(console_db, f"op-{uuid.uuid4().hex[:6]}", "operator")
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get(f"/api/jobs/{job_id}", headers=auth).json()["why"] == "repository rate"
    done = client.post(f"/api/jobs/{job_id}/cancel", headers=auth).json()
    assert done == {"job_id": job_id, "action": "cancel", "done": True, "message": "cancelled"}
    assert job_id not in queue.get_job_ids()
    again = client.post(f"/api/jobs/{job_id}/cancel", headers=auth).json()
    assert again["done"] is False
    retry = client.post(f"/api/jobs/{job_id}/retry", headers=auth).json()
    assert retry["message"] == "not in a failed registry (nothing to retry)"


def test_repositories_show_acceptance_per_category(
    client: TestClient, console_db: sa.Engine
) -> None:
    repo = f"inproc/accept-{uuid.uuid4().hex[:6]}"
    with console_db.begin() as conn:
        conn.execute(
            sa.insert(JobRun).values(
                job_id=f"review-{uuid.uuid4().hex}",
                kind="review",
                forge="github",
                repo=repo,
                number=1,
                status="done",
                attempts=1,
                error="",
                detail={},
                usage={},
            )
        )
        outcomes = [("style", "accepted"), ("style", "rejected"), ("style", "rejected"),
                    ("bug", "accepted"), ("bug", None)]  # fmt: skip
        for n, (category, outcome) in enumerate(outcomes):
            conn.execute(
                sa.insert(PostedFinding).values(
                    forge="github",
                    repo=repo,
                    number=1,
                    fingerprint=f"f{n}",
                    path="a.py",
                    line=n + 1,
                    severity="low",
                    category=category,
                    head_sha="0" * 40,
                    status="posted",
                    outcome=outcome,
                )
            )
    key, _ = create_key(console_db, f"acc-{uuid.uuid4().hex[:6]}", "viewer")
    rows = client.get(
        "/api/repositories", params={"repo": repo}, headers={"Authorization": f"Bearer {key}"}
    ).json()
    (row,) = [r for r in rows if r["repo"] == repo]
    by = {a["category"]: a for a in row["acceptance"]}
    assert (by["style"]["accepted"], by["style"]["rejected"], by["style"]["decided"]) == (1, 2, 3)
    assert by["style"]["rate"] == pytest.approx(1 / 3)
    assert (by["bug"]["accepted"], by["bug"]["decided"]) == (1, 1)  # undecided ones not counted
