"""Who is asking: a signed-in user (OIDC, session cookie) or an API key, and what they may do.

The OIDC exchange itself (discovery, PKCE, state, nonce, ID token signature and claims) is
authlib's; here only the mapping from claims to a role and a repository scope."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.console.queries import Scope
from bot.settings import Settings

VIEWER = "viewer"
OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    name: str
    role: str
    via: str  # "session" or "key"

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR


def role_from_claims(claims: Mapping[str, Any], settings: Settings) -> str | None:
    """``operator``, ``viewer`` or None (no access) from the configured claim, which may be a
    string, a list of strings or a space/comma-separated string."""
    raw = claims.get(settings.console_role_claim)
    if isinstance(raw, str):
        values = {v for v in raw.replace(",", " ").split() if v}
    elif isinstance(raw, list | tuple):
        values = {v for v in raw if isinstance(v, str)}
    else:
        return None
    if values & set(settings.console_operator_roles):
        return OPERATOR
    if values & set(settings.console_viewer_roles):
        return VIEWER
    return None


def scope_for(settings: Settings, role: str) -> Scope:
    patterns = (
        settings.console_operator_repos if role == OPERATOR else settings.console_viewer_repos
    )
    return Scope(tuple(patterns))


def same_token(expected: object, given: object) -> bool:
    """Constant-time comparison of a CSRF token; missing or empty never matches."""
    if not isinstance(expected, str) or not isinstance(given, str) or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def safe_next(target: str) -> str:
    """A local path to return to after sign-in; anything else (another host) becomes ``/``."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"
