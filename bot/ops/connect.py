"""`assist connect gitlab`: create or update the project's webhook, idempotently.

The hook points at ``PUBLIC_URL/webhooks/gitlab`` with the first of our webhook tokens and the
events the bot handles (merge requests, comments, pushes). GitLab never shows a hook's token,
so what we set is remembered as a SHA-256 fingerprint in a small state file: a second run with
the same settings finds the hook as wanted and changes nothing. The report says what was done
and how to undo it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gitlab
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

EVENTS = {
    "merge_requests_events": True,
    "note_events": True,
    "push_events": True,
    "issues_events": False,
}


class ConnectError(Exception):
    """The forge refused, or the settings are missing: the message says what to do."""


@dataclass(frozen=True, slots=True)
class Connected:
    action: str  # created, updated, unchanged
    hook_id: int
    hook_url: str
    undo: str

    def report(self, project: str) -> str:
        what = {
            "created": "created the webhook",
            "updated": "updated the webhook",
            "unchanged": "the webhook was already as wanted; changed nothing",
        }[self.action]
        events = ", ".join(k.removesuffix("_events") for k, on in EVENTS.items() if on)
        return (
            f"assist connect gitlab: {what} on {project} (hook {self.hook_id}): "
            f"{self.hook_url}, events {events}, with our webhook token.\n"
            f"To undo: {self.undo}"
        )


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def connect_gitlab(
    *,
    gitlab_url: str,
    api_token: str,
    webhook_token: str,
    project: str,
    public_url: str,
    state_file: Path,
    timeout_s: float = 30.0,
) -> Connected:
    """Create or update ``project``'s webhook; raises :class:`ConnectError`."""
    if not public_url.startswith(("https://", "http://")):
        raise ConnectError("--url must be the public http(s) address of `assist serve`")
    hook_url = public_url.rstrip("/") + "/webhooks/gitlab"
    gl = gitlab.Gitlab(gitlab_url, private_token=api_token, timeout=timeout_s, keep_base_url=True)
    try:
        gl.auth()
    except GitlabAuthenticationError as exc:
        raise ConnectError(
            f"{gitlab_url} refused ASSIST_GITLAB_TOKEN (HTTP {exc.response_code})"
        ) from exc
    except GitlabError as exc:
        raise ConnectError(f"{gitlab_url} did not answer: HTTP {exc.response_code}") from exc
    try:
        scopes = gl.http_get("/personal_access_tokens/self").get("scopes", [])  # type: ignore[union-attr]
    except GitlabError:
        scopes = None
    if scopes is not None and "api" not in scopes:
        raise ConnectError(
            f"the token's scopes are {', '.join(scopes) or 'none'}: the bot needs the api scope "
            "(create a new token with it and set ASSIST_GITLAB_TOKEN)"
        )
    try:
        p = gl.projects.get(project)
        hooks = p.hooks.list(get_all=True)
    except GitlabError as exc:
        if exc.response_code == 403:
            raise ConnectError(
                f"the token may not manage {project}'s webhooks: it needs the Maintainer role"
            ) from exc
        raise ConnectError(f"{project}: HTTP {exc.response_code} from {gitlab_url}") from exc
    wanted: dict[str, Any] = {
        "url": hook_url,
        **EVENTS,
        "enable_ssl_verification": hook_url.startswith("https://"),
    }
    state = _load(state_file)
    key = f"{gitlab_url.rstrip('/')}|{project}"
    known = state.get(key, {})
    existing = next((h for h in hooks if h.url == hook_url), None)
    api = f"{gitlab_url.rstrip('/')}/api/v4/projects/{quote(project, safe='')}/hooks/{{id}}"
    undo = (
        f"delete hook {{id}} in {project} (Settings > Webhooks), or "
        f'curl -X DELETE -H "PRIVATE-TOKEN: $ASSIST_GITLAB_TOKEN" {api}'
    )
    try:
        if existing is None:
            hook = p.hooks.create({**wanted, "token": webhook_token})
            action = "created"
        else:
            hook = existing
            same = all(getattr(existing, k, None) == v for k, v in wanted.items())
            token_same = known.get("hook_id") == existing.id and known.get(
                "token_sha256"
            ) == _fingerprint(webhook_token)
            if same and token_same:
                action = "unchanged"
            else:
                for k, v in {**wanted, "token": webhook_token}.items():
                    setattr(existing, k, v)
                existing.save()
                action = "updated"
    except GitlabError as exc:
        raise ConnectError(f"{project}: the hook was refused (HTTP {exc.response_code})") from exc
    state[key] = {"hook_id": hook.id, "token_sha256": _fingerprint(webhook_token)}
    _save(state_file, state)
    return Connected(action, int(hook.id), hook_url, undo.replace("{id}", str(hook.id)))


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    path.chmod(0o600)
