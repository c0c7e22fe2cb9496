"""Bad deliveries get their 4xx, and every one of them is recorded."""

from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa

from tests.support.webhooks import (
    GITHUB_SECRET,
    GITHUB_SECRET_NEXT,
    GITLAB_TOKEN,
    dumps,
    github_headers,
    gitlab_headers,
)

PAYLOAD = {"zen": "Keep it logically awesome.", "hook_id": 1}


def _outcome(db: sa.Engine, delivery: str) -> tuple[str, int, str]:
    with db.connect() as conn:
        row = conn.execute(
            sa.text("SELECT outcome, status_code, reason FROM deliveries WHERE delivery_id = :d"),
            {"d": delivery},
        ).one()
    return row.outcome, row.status_code, row.reason


def _stored(db: sa.Engine, delivery: str) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM deliveries WHERE delivery_id = :d"), {"d": delivery}
            ).scalar_one()
        )


def _github(server: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(server + "/webhooks/github", content=body, headers=headers, timeout=30)


def test_both_rotated_secrets_verify(server: str) -> None:
    body = dumps(PAYLOAD)
    for secret in (GITHUB_SECRET, GITHUB_SECRET_NEXT):
        answer = _github(server, body, github_headers("ping", body, secret=secret))
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("case", "status", "outcome"),
    [
        ("tampered", 401, "unauthorized"),
        ("wrong_secret", 401, "unauthorized"),
        ("missing_signature", 401, "unauthorized"),
        ("malformed_signature", 401, "unauthorized"),
        ("missing_event", 400, "malformed"),
        ("truncated_json", 400, "malformed"),
        ("not_an_object", 200, "ignored"),
        ("wrong_content_type", 415, "unsupported_media"),
        ("missing_fields", 200, "ignored"),
        ("deep_nesting", 400, "malformed"),
        ("not_utf8", 400, "malformed"),
    ],
)
def test_github_rejections(
    server: str, db: sa.Engine, case: str, status: int, outcome: str
) -> None:
    delivery = f"reject-{case}-{uuid.uuid4()}"
    body = dumps(PAYLOAD)
    headers = github_headers("ping", body, delivery=delivery)
    if case == "tampered":
        body = body.replace(b"awesome", b"AWESOME")
    elif case == "wrong_secret":
        headers = github_headers(
            "ping", body, secret="not-the-secret-at-all-123", delivery=delivery
        )
    elif case == "missing_signature":
        del headers["X-Hub-Signature-256"]
    elif case == "malformed_signature":
        headers["X-Hub-Signature-256"] = "sha1=deadbeef"
    elif case == "missing_event":
        del headers["X-GitHub-Event"]
    elif case == "truncated_json":
        body = body[:-7]
        headers = github_headers("ping", body, delivery=delivery)
    elif case == "not_an_object":
        body = b"[1, 2, 3]"
        headers = github_headers("ping", body, delivery=delivery)
    elif case == "wrong_content_type":
        headers["Content-Type"] = "text/plain"
    elif case == "missing_fields":
        body = dumps({"action": "opened", "pull_request": {"number": "x"}})
        headers = github_headers("pull_request", body, delivery=delivery)
    elif case == "deep_nesting":
        body = b'{"a":' * 5000 + b"1" + b"}" * 5000
        headers = github_headers("ping", body, delivery=delivery)
    elif case == "not_utf8":
        body = b'{"zen": "\xff\xfe"}'
        headers = github_headers("ping", body, delivery=delivery)
    answer = _github(server, body, headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["error" if status != 200 else "ignored"]
    if outcome == "unauthorized":  # counted in metrics, never stored row by row
        assert _stored(db, delivery) == 0
        return
    recorded = _outcome(db, delivery)
    assert recorded[:2] == (outcome, status)


def test_oversized_body_is_refused_and_recorded(server: str, db: sa.Engine) -> None:
    delivery = f"reject-big-{uuid.uuid4()}"
    body = dumps({"padding": "x" * (2 * 1024 * 1024 + 10)})  # the test server caps at 2 MiB
    answer = _github(server, body, github_headers("ping", body, delivery=delivery))
    assert answer.status_code == 413
    assert _outcome(db, delivery)[:2] == ("too_large", 413)


def test_oversized_chunked_body_is_refused(server: str, db: sa.Engine) -> None:
    """No Content-Length: the limit still holds while streaming."""
    delivery = f"reject-chunked-{uuid.uuid4()}"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    headers = {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + "0" * 64,  # well formed: the body is read
        "Content-Type": "application/json",
    }
    answer = httpx.post(server + "/webhooks/github", content=chunks(), headers=headers)
    assert answer.status_code == 413
    assert _outcome(db, delivery)[:2] == ("too_large", 413)


def test_form_encoded_github_delivery_is_accepted(server: str) -> None:
    import urllib.parse

    body = urllib.parse.urlencode({"payload": '{"zen": "form", "hook_id": 2}'}).encode()
    headers = github_headers("ping", body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    answer = _github(server, body, headers)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789", GITLAB_TOKEN + "x", ""])
def test_gitlab_bad_tokens(server: str, db: sa.Engine, token: str | None) -> None:
    delivery = str(uuid.uuid4())
    headers = gitlab_headers("Push Hook", delivery=delivery)
    if token is None:
        del headers["X-Gitlab-Token"]
    else:
        headers["X-Gitlab-Token"] = token
    answer = httpx.post(server + "/webhooks/gitlab", content=b"{}", headers=headers)
    assert answer.status_code == 401
    assert _stored(db, delivery) == 0  # rejected on the header, before the body was read


def test_secret_never_echoed(server: str) -> None:
    body = dumps(PAYLOAD)
    answer = _github(server, body, github_headers("ping", body, secret="wrong-secret-000000000"))
    assert GITHUB_SECRET not in answer.text
    metrics = httpx.get(server + "/metrics").text
    assert GITHUB_SECRET not in metrics
    assert GITLAB_TOKEN not in metrics
