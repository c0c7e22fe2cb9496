"""What a scoped installation token may reach on the test forge, as GitHub enforces it: a
repository outside the token's ``repositories`` is 404 (it does not exist for the token), an
operation whose permission the token lacks is 403."""

from __future__ import annotations

import re
from urllib.parse import unquote

from tests.testforge.http import HttpError, Response
from tests.testforge.state import Token

LEVELS = {"read": 1, "write": 2, "admin": 3}
REPO_PATH = re.compile(r"^/repos/([^/]+)/([^/]+)(/.*)?$")
# the first matching prefix (after /repos/{owner}/{repo}) names the permissions that allow it
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/issues", ("issues", "pull_requests")),  # a pull request's conversation is an issue's
    ("/pulls", ("pull_requests",)),
    ("/statuses", ("statuses",)),
    ("/commits/", ("contents", "statuses", "checks")),
    ("/check-runs", ("checks",)),
    ("/check-suites", ("checks",)),
    ("/contents", ("contents",)),
    ("/git/", ("contents",)),
    ("/collaborators", ("metadata",)),
)


def _allows(token: Token, names: tuple[str, ...], level: str) -> bool:
    granted = token.permissions or {}
    return any(LEVELS.get(granted.get(name, ""), 0) >= LEVELS[level] for name in names)


def check_api_scope(method: str, path: str, token: Token | None) -> None:
    """Raise the forge's answer when ``token`` may not do ``method path``."""
    if token is None or token.installation is None:
        return
    match = REPO_PATH.match(path)
    if match is None:
        return
    repo = f"{unquote(match.group(1))}/{unquote(match.group(2))}"
    if token.repos is not None and repo not in token.repos:
        raise HttpError(404, {"message": "Not Found"})
    if token.permissions is None:
        return
    rest = match.group(3) or ""
    level = "read" if method.upper() in ("GET", "HEAD") else "write"
    for prefix, names in CATEGORIES:
        if rest.startswith(prefix):
            if method.upper() == "GET" and prefix == "/commits/":
                names = ("contents",)
            if not _allows(token, names, level):
                raise HttpError(403, {"message": "Resource not accessible by integration"})
            return
    if not _allows(token, ("metadata",), "read"):
        raise HttpError(403, {"message": "Resource not accessible by integration"})


def check_git_scope(repo: str, token: Token, *, push: bool) -> Response | None:
    """git over HTTP: a repository outside the token's scope is not found; fetching needs
    contents:read, pushing contents:write."""
    if token.installation is None:
        return None
    if token.repos is not None and repo not in token.repos:
        return Response(404, "Repository not found\n")
    if token.permissions is not None and not _allows(
        token, ("contents",), "write" if push else "read"
    ):
        return Response(403, "Write access denied\n" if push else "Read access denied\n")
    return None
