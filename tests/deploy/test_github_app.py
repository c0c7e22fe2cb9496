"""deploy/github-app/manifest.json against GitHub's own description of webhooks and permissions.

The event names, which permission each event needs, which events an App receives without
subscribing, and the permission names and levels all come from GitHub's official webhook
OpenAPI description in the shared corpus (``github/webhooks-openapi.json``).
"""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.intake.github import HANDLED_EVENTS
from tests.deploy.conftest import ROOT

MANIFEST = ROOT / "deploy" / "github-app" / "manifest.json"

# The manifest's parameters, as GitHub documents them ("Registering a GitHub App from a
# manifest", GitHub App Manifest parameters); no schema for them ships in any package.
MANIFEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url", "hook_attributes", "default_permissions", "default_events"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 34},
        "url": {"type": "string", "pattern": "^https://"},
        "hook_attributes": {
            "type": "object",
            "required": ["url"],
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string", "pattern": "^https://"},
                "active": {"type": "boolean"},
            },
        },
        "redirect_url": {"type": "string"},
        "callback_urls": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "setup_url": {"type": "string"},
        "description": {"type": "string"},
        "public": {"type": "boolean"},
        "default_events": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "default_permissions": {"type": "object"},
        "request_oauth_on_install": {"type": "boolean"},
        "setup_on_update": {"type": "boolean"},
    },
}

REQUIRED = re.compile(r'at least (read|write)-level access for the "([^"]+)" (?:\w+ )?permission')
AUTOMATIC = re.compile(
    r"cannot manually subscribe|receives this webhook by default and cannot unsubscribe"
)
LEVELS = {"read": 1, "write": 2, "admin": 3}


class Webhooks:
    """What GitHub's webhook description says about each event."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.summaries: dict[str, list[str]] = defaultdict(list)
        for operation in spec["webhooks"].values():
            post = operation["post"]
            event = post["externalDocs"]["url"].rsplit("#", 1)[1]
            self.summaries[event].append(post["summary"])
        self.permissions_schema: dict[str, Any] = spec["components"]["schemas"]["app-permissions"]

    @property
    def events(self) -> set[str]:
        return set(self.summaries)

    def automatic(self, event: str) -> bool:
        """Delivered to every App without subscribing (and not subscribable)."""
        return any(AUTOMATIC.search(s) for s in self.summaries[event])

    def needs(self, event: str) -> dict[str, str]:
        """The least permission per key the event's summary names: {"pull_requests": "read"}."""
        needs: dict[str, str] = {}
        for summary in self.summaries[event]:
            match = REQUIRED.search(summary)
            if match:
                level, title = match.groups()
                key = title.lower().replace(" ", "_")
                needs[key] = min(needs.get(key, level), level, key=LEVELS.__getitem__)
        return needs

    def strict_permissions_schema(self) -> dict[str, Any]:
        """The official schema, with unknown permission names refused."""
        return {**self.permissions_schema, "additionalProperties": False}


@pytest.fixture(scope="module")
def webhooks(corpora: Path) -> Webhooks:
    spec = json.loads((corpora / "github" / "webhooks-openapi.json").read_text())
    return Webhooks(spec)


@pytest.fixture
def manifest() -> dict[str, Any]:
    data = json.loads(MANIFEST.read_text())
    assert isinstance(data, dict)
    return data


def manifest_problems(manifest: dict[str, Any], webhooks: Webhooks) -> list[str]:
    """Everything wrong with a manifest, per GitHub's description; [] when it is right."""
    problems = [
        e.message for e in jsonschema.Draft7Validator(MANIFEST_SCHEMA).iter_errors(manifest)
    ]
    permissions = manifest.get("default_permissions", {})
    problems += [
        f"default_permissions: {e.message}"
        for e in jsonschema.Draft7Validator(webhooks.strict_permissions_schema()).iter_errors(
            permissions
        )
    ]
    for event in manifest.get("default_events", []):
        if event not in webhooks.events:
            problems.append(f"{event}: not a GitHub webhook event")
            continue
        if webhooks.automatic(event):
            problems.append(f"{event}: delivered to every App; cannot be subscribed")
        for key, level in webhooks.needs(event).items():
            granted = permissions.get(key)
            if LEVELS.get(granted or "", 0) < LEVELS[level]:
                problems.append(f"{event}: needs {key}: {level}, granted {granted}")
    return problems


def test_the_corpus_describes_the_events_we_use(webhooks: Webhooks) -> None:
    assert {"pull_request", "issue_comment", "push", "installation"} <= webhooks.events
    assert webhooks.needs("pull_request") == {"pull_requests": "read"}
    assert webhooks.needs("push") == {"contents": "read"}
    assert webhooks.automatic("installation")
    assert webhooks.automatic("installation_repositories")
    assert not webhooks.automatic("pull_request")


def test_manifest_is_valid(manifest: dict[str, Any], webhooks: Webhooks) -> None:
    assert manifest_problems(manifest, webhooks) == []


def test_every_event_the_bot_handles_reaches_it(
    manifest: dict[str, Any], webhooks: Webhooks
) -> None:
    for event in HANDLED_EVENTS:
        assert event in manifest["default_events"] or webhooks.automatic(event), event


def test_no_event_is_subscribed_that_the_bot_ignores(manifest: dict[str, Any]) -> None:
    assert set(manifest["default_events"]) <= set(HANDLED_EVENTS)


def test_permissions_are_what_the_bot_does_and_no_more(manifest: dict[str, Any]) -> None:
    assert manifest["default_permissions"] == {
        "contents": "write",  # /assist fix pushes a branch
        "pull_requests": "write",  # reviews, review comments, fix pull requests
        "issues": "write",  # comments on the conversation (issue comments)
        "checks": "write",  # the review's check run
        "statuses": "write",  # commit status
        "metadata": "read",  # mandatory for every App
    }
    assert "members" not in manifest["default_permissions"]


def test_the_hook_points_at_the_github_webhook_route(manifest: dict[str, Any]) -> None:
    assert manifest["hook_attributes"]["url"].endswith("/webhooks/github")
    assert manifest["hook_attributes"]["active"] is True
    assert manifest["public"] is False


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda m: m["default_events"].append("pull_requests"),
            "pull_requests: not a GitHub webhook event",
            id="unknown-event",
        ),
        pytest.param(
            lambda m: m["default_events"].append("installation"),
            "installation: delivered to every App",
            id="unsubscribable-event",
        ),
        pytest.param(
            lambda m: m["default_permissions"].pop("contents"),
            "push: needs contents: read, granted None",
            id="missing-permission",
        ),
        pytest.param(
            lambda m: m["default_permissions"].update(pull_request="write"),
            "'pull_request' was unexpected",
            id="misspelt-permission",
        ),
        pytest.param(
            lambda m: m["default_permissions"].update(issues="rw"),
            "'rw' is not one of",
            id="bad-level",
        ),
        pytest.param(
            lambda m: m.update(webhook_url="https://x"),
            "'webhook_url' was unexpected",
            id="unknown-manifest-key",
        ),
    ],
)
def test_a_broken_manifest_is_caught(
    manifest: dict[str, Any], webhooks: Webhooks, edit: Any, expected: str
) -> None:
    broken = copy.deepcopy(manifest)
    edit(broken)
    problems = manifest_problems(broken, webhooks)
    assert any(expected in problem for problem in problems), problems
