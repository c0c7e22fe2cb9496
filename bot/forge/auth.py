"""Credentials for the forges: a static token, or a GitHub App's installation tokens.

An installation token is requested for the one repository it is used on, with only the
permissions it was built for (``bot.forge.scopes``), and cached per repository and permission
set until shortly before it expires; a 401 invalidates it, and the adapter asks again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import requests
from github import Auth, GithubException, GithubIntegration
from github.Consts import DEFAULT_USER_AGENT
from pydantic import SecretStr

from bot.domain import RepoRef
from bot.forge.github_errors import map_github_error, map_transport_error


class TokenSource(Protocol):
    """Hands out the token for a repository; ``invalidate`` drops one the forge refused."""

    def token(self, repo: RepoRef) -> str: ...

    def invalidate(self, repo: RepoRef, token: str) -> bool:
        """Forget ``token``; True when a fresh one may be obtained."""
        ...


@dataclass(frozen=True)
class StaticToken:
    """A PAT, the Actions ``GITHUB_TOKEN``, or a GitLab project/group/personal token."""

    value: SecretStr

    def token(self, repo: RepoRef) -> str:  # noqa: ARG002 - the same token for every repository
        return self.value.get_secret_value()

    def invalidate(self, repo: RepoRef, token: str) -> bool:  # noqa: ARG002
        return False  # nothing fresher to get


@dataclass(frozen=True)
class _Cached:
    value: str
    expires_at: float


class GitHubAppTokens:
    """Installation tokens of a GitHub App, each scoped to one repository (``repositories``
    in the request) and to ``permissions`` when given, cached per (installation, repository),
    thread-safe.

    ``installation_id`` pins one installation (from the webhook); without it the installation
    of each repository is looked up once with the app's JWT.
    """

    def __init__(
        self,
        *,
        app_id: int,
        private_key: SecretStr,
        api_url: str,
        timeout_s: float = 30.0,
        installation_id: int | None = None,
        refresh_margin_s: float = 300.0,
        permissions: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app_id = app_id
        self._private_key = private_key
        self._api_url = api_url
        self._timeout_s = timeout_s
        self._installation_id = installation_id
        self._margin = refresh_margin_s
        self._clock = clock
        self._lock = threading.Lock()
        self._permissions = dict(permissions) if permissions is not None else None
        self._scope = tuple(sorted((permissions or {}).items()))
        self._tokens: dict[tuple[int, str, tuple[tuple[str, str], ...]], _Cached] = {}
        self._installations: dict[str, int] = {}
        self.requests = 0
        """Installation tokens requested so far (for measurements)."""

    @property
    def permissions(self) -> Mapping[str, str] | None:
        """The permissions each token is requested with (None: all the installation's)."""
        return self._permissions

    def _integration(self) -> GithubIntegration:
        auth = Auth.AppAuth(self._app_id, self._private_key.get_secret_value())
        return GithubIntegration(
            auth=auth,
            base_url=self._api_url,
            timeout=max(1, math.ceil(self._timeout_s)),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )

    def installation(self, repo: RepoRef) -> int:
        if self._installation_id is not None:
            return self._installation_id
        if repo.path not in self._installations:
            owner, _, name = repo.path.partition("/")
            try:
                found = self._integration().get_repo_installation(owner, name)
            except GithubException as error:
                raise map_github_error(error) from error
            except requests.RequestException as error:
                raise map_transport_error(error) from error
            self._installations[repo.path] = found.id
        return self._installations[repo.path]

    def token(self, repo: RepoRef) -> str:
        with self._lock:
            key = (self.installation(repo), repo.path, self._scope)
            cached = self._tokens.get(key)
            if cached and self._clock() < cached.expires_at - self._margin:
                return cached.value
            token, expires_at = self._request(key[0], repo)
            self.requests += 1
            self._tokens[key] = _Cached(token, expires_at)
            return token

    def _request(self, installation: int, repo: RepoRef) -> tuple[str, float]:
        """POST /app/installations/{id}/access_tokens for ``repo`` alone (by name: the
        installation belongs to its owner) with ``permissions``; PyGithub's helper cannot
        name repositories."""
        body: dict[str, object] = {"repositories": [repo.path.rpartition("/")[2]]}
        if self._permissions is not None:
            body["permissions"] = self._permissions
        jwt = Auth.AppAuth(self._app_id, self._private_key.get_secret_value()).token
        try:
            response = requests.post(
                f"{self._api_url.rstrip('/')}/app/installations/{installation}/access_tokens",
                json=body,
                headers={
                    "Authorization": f"Bearer {jwt}",
                    "Accept": "application/vnd.github+json",
                    "User-Agent": DEFAULT_USER_AGENT,
                },
                timeout=self._timeout_s,
            )
        except requests.RequestException as error:
            raise map_transport_error(error) from error
        try:
            data = response.json()
        except ValueError:
            data = {"message": response.text[:200]}
        if response.status_code != 201 or not isinstance(data, dict) or "token" not in data:
            refused = GithubException(response.status_code, data, dict(response.headers))
            raise map_github_error(refused)
        expires = data.get("expires_at")
        try:
            expires_at = datetime.fromisoformat(str(expires).replace("Z", "+00:00")).timestamp()
        except ValueError:
            expires_at = self._clock() + 3600
        return str(data["token"]), expires_at

    def invalidate(self, repo: RepoRef, token: str) -> bool:
        with self._lock:
            key = (self.installation(repo), repo.path, self._scope)
            cached = self._tokens.get(key)
            if cached and cached.value == token:
                del self._tokens[key]
            return True
