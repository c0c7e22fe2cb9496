"""Unauthenticated requests are rejected on their headers, counted in metrics, and never
stored row by row: a flood of them costs no body read and no database write."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

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


def _reasons(client: TestClient) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for line in client.get("/metrics").text.splitlines():
        match = re.match(
            r'assist_unauthenticated_requests_total\{forge="(\w+)",reason="([^"]+)"\} (\S+)', line
        )
        if match:
            found[(match.group(1), match.group(2))] = float(match.group(3))
    return found


def test_refusals_are_counted_by_reason(client: TestClient) -> None:
    before = _reasons(client)
    body = dumps({"zen": "x"})
    missing = github_headers("ping", body)
    del missing["X-Hub-Signature-256"]
    malformed = {**github_headers("ping", body), "X-Hub-Signature-256": "sha1=abc"}
    wrong = github_headers("ping", body, secret="not-the-secret-0123456789")
    no_token = gitlab_headers("Push Hook")
    del no_token["X-Gitlab-Token"]
    wrong_token = {**gitlab_headers("Push Hook"), "X-Gitlab-Token": "wrong-token-0123456789"}
    for headers, times in ((missing, 3), (malformed, 2), (wrong, 1)):
        for _ in range(times):
            assert client.post("/webhooks/github", content=body, headers=headers).status_code == 401
    for headers, times in ((no_token, 2), (wrong_token, 1)):
        for _ in range(times):
            assert (
                client.post("/webhooks/gitlab", content=b"{}", headers=headers).status_code == 401
            )
    after = _reasons(client)
    delta = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
    assert delta == {
        ("github", "missing signature"): 3,
        ("github", "malformed signature"): 2,
        ("github", "wrong signature"): 1,
        ("gitlab", "missing token"): 2,
        ("gitlab", "wrong token"): 1,
    }
    # the answer does not tell which check failed
    answer = client.post("/webhooks/github", content=body, headers=missing).json()
    assert answer == {"error": "bad or missing signature"}


def _asgi_post(app: Any, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """POST ``path`` to the ASGI app; returns (status, how many times it asked for the body)."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b'{"zen": "x"}', "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return int(start["status"]), asked


def test_the_body_of_an_unauthenticated_request_is_never_read(client: TestClient) -> None:
    body = dumps({"zen": "x"})
    missing = github_headers("ping", body)
    del missing["X-Hub-Signature-256"]
    malformed = {**github_headers("ping", body), "X-Hub-Signature-256": "sha256=xyz"}
    no_token = gitlab_headers("Push Hook")
    del no_token["X-Gitlab-Token"]
    wrong_token = {**gitlab_headers("Push Hook"), "X-Gitlab-Token": "wrong-token-0123456789"}
    for path, headers in (
        ("/webhooks/github", missing),
        ("/webhooks/github", malformed),
        ("/webhooks/gitlab", no_token),
        ("/webhooks/gitlab", wrong_token),
    ):
        assert _asgi_post(client.app, path, headers) == (401, 0), (path, headers)
    # the control: a well-formed signature has to be checked against the body, so it is read
    wrong = github_headers("ping", body, secret="not-the-secret-0123456789")
    status, asked = _asgi_post(client.app, "/webhooks/github", wrong)
    assert (status, asked > 0) == (401, True)
