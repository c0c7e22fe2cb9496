"""Unauthenticated requests are rejected on their headers, counted in metrics, and never
stored row by row: a flood of them costs no body read and no database write."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.support.webhooks import dumps, github_headers, gitlab_headers


def _rows(pg_url: str) -> int:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM deliveries")).scalar_one())
    finally:
        engine.dispose()


def test_unauthenticated_requests_are_counted_not_stored(client: TestClient, pg_url: str) -> None:
    before = _rows(pg_url)
    body = dumps({"zen": "x"})
    for _ in range(20):
        github = github_headers("ping", body, delivery=str(uuid.uuid4()))
        del github["X-Hub-Signature-256"]
        assert client.post("/webhooks/github", content=body, headers=github).status_code == 401
        wrong = github_headers("ping", body, secret="not-the-secret-0123456789")
        assert client.post("/webhooks/github", content=body, headers=wrong).status_code == 401
        gitlab = gitlab_headers("Push Hook", delivery=str(uuid.uuid4()))
        gitlab["X-Gitlab-Token"] = "wrong-token-0123456789"
        assert client.post("/webhooks/gitlab", content=b"{}", headers=gitlab).status_code == 401
    assert _rows(pg_url) == before
    metrics = client.get("/metrics").text
    assert 'event="unverified",forge="github",outcome="unauthorized"' in metrics
    assert 'event="unverified",forge="gitlab",outcome="unauthorized"' in metrics
