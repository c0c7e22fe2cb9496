"""Build deliveries the way the forges send them: headers, signatures, bodies."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from bot.intake.verify import github_signature

GITHUB_SECRET = "test-github-secret-0123456789"
GITHUB_SECRET_NEXT = "rotated-github-secret-9876543210"
GITLAB_TOKEN = "test-gitlab-token-0123456789"

GITLAB_EVENTS = {
    "merge_request": "Merge Request Hook",
    "note": "Note Hook",
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "issue": "Issue Hook",
    "pipeline": "Pipeline Hook",
    "build": "Job Hook",
    "wiki_page": "Wiki Page Hook",
    "deployment": "Deployment Hook",
    "release": "Release Hook",
    "feature_flag": "Feature Flag Hook",
    "emoji": "Emoji Hook",
    "access_token": "Resource Access Token Hook",
}


def github_examples(corpora: Path) -> list[tuple[str, dict[str, Any]]]:
    data = json.loads((corpora / "github" / "webhook-examples.json").read_text())
    return [(entry["name"], example) for entry in data for example in entry["examples"]]


def gitlab_bodies(corpora: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((corpora / "gitlab" / "webhooks").glob("*/*.json")):
        out.append((f"{path.parent.name}/{path.name}", json.loads(path.read_text())))
    return out


def gitlab_event_header(body: dict[str, Any]) -> str:
    kind = body.get("object_kind") or body.get("event_type")
    if kind in GITLAB_EVENTS:
        return GITLAB_EVENTS[str(kind)]
    return "System Hook"  # group/project/member events come as system hooks


def github_headers(
    event: str, body: bytes, *, secret: str = GITHUB_SECRET, delivery: str | None = None
) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": github_signature(body, secret),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }


def gitlab_headers(
    event: str, *, token: str = GITLAB_TOKEN, delivery: str | None = None
) -> dict[str, str]:
    return {
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": token,
        "X-Gitlab-Event-UUID": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }


def dumps(payload: object) -> bytes:
    return json.dumps(payload).encode()
