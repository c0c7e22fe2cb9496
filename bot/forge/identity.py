"""Our own identity on a forge, read from its API, never from configuration alone.

GitHub App: ``GET /app`` (with the App's JWT) gives the slug; the App posts as ``<slug>[bot]``.
A token (GitHub PAT, GitLab): ``GET /user`` gives the login. The answer is cached in the
process (and, when a store is given, in Redis with a TTL, shared by the workers). Configured
logins (``ASSIST_BOT_LOGINS``) are only added to it, e.g. legacy names.

Everything that trusts "our own comment" (hidden markers, own-comment filters, feedback) asks
this; a comment by anyone else is never ours, whatever it carries.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import requests
from github import Auth
from github.Consts import DEFAULT_USER_AGENT
from pydantic import SecretStr

from bot.forge.errors import (
    AuthenticationFailed,
    ForgeError,
    ForgeUnavailable,
    PermissionDenied,
)

log = logging.getLogger(__name__)
DEFAULT_TTL_S = 3600.0


class IdentityStore(Protocol):
    """A shared cache (Redis): ``get`` the login of a key, ``put`` it for ``ttl_s`` seconds."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, login: str, ttl_s: float) -> None: ...


class Identity(Protocol):
    """Who we are on a forge: the logins whose comments are ours."""

    def logins(self) -> frozenset[str]:
        """Lowercased logins; raises a ForgeError when the forge cannot tell."""
        ...

    def is_ours(self, author: str) -> bool: ...


class OwnIdentity:
    """The logins our credentials post as, lowercased: the API's answer plus ``extra``.

    Looked up on first use (never in the constructor) and cached for ``ttl_s``. ``key`` names
    the credentials (a digest, never the secret) so that one cache serves each of them."""

    def __init__(
        self,
        fetch: Callable[[], str],
        *,
        key: str,
        extra: Iterable[str] = (),
        store: IdentityStore | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.key = key
        self._extra = frozenset(login.lower() for login in extra if login)
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock

    def login(self) -> str:
        """Our login from the API (cached); raises a ForgeError when it cannot be read."""
        with _LOCK:
            cached = _CACHE.get(self.key)
            if cached is not None and self._clock() < cached[1]:
                return cached[0]
        login = self._store.get(self.key) if self._store is not None else None
        if not login:
            login = self._fetch()
            if self._store is not None:
                self._store.put(self.key, login, self._ttl_s)
        with _LOCK:
            _CACHE[self.key] = (login, self._clock() + self._ttl_s)
        return login

    def logins(self) -> frozenset[str]:
        try:
            login = self.login()
        except ForgeError as error:
            if error.status != 403 or not self._extra:
                raise
            # a token that may not read its own user (Actions' GITHUB_TOKEN): the operator
            # named our identity explicitly (ASSIST_BOT_LOGINS); nothing else is trusted
            log.info("the forge does not name this token's user (403); configured logins used")
            with _LOCK:
                _CACHE[self.key] = ("", self._clock() + self._ttl_s)
            return self._extra
        return self._extra | ({login.lower()} if login else frozenset())

    def is_ours(self, author: str) -> bool:
        return bool(author) and author.lower() in self.logins()


_LOCK = threading.Lock()
_CACHE: dict[str, tuple[str, float]] = {}


def forget_identities() -> None:
    """Drop the process cache (tests, or after the App was renamed)."""
    with _LOCK:
        _CACHE.clear()


def credential_key(kind: str, url: str, secret: str | int) -> str:
    digest = hashlib.sha256(f"{kind}\0{url}\0{secret}".encode()).hexdigest()[:24]
    return f"{kind}:{digest}"


def _get_json(url: str, headers: dict[str, str], timeout_s: float) -> dict[str, object]:
    try:
        response = requests.get(
            url, headers={"User-Agent": DEFAULT_USER_AGENT, **headers}, timeout=timeout_s
        )
    except requests.RequestException as error:
        raise ForgeUnavailable(f"{url} unreachable: {type(error).__name__}") from error
    if response.status_code == 401:
        raise AuthenticationFailed(f"{url} answered 401", status=401)
    if response.status_code >= 500:
        raise ForgeUnavailable(
            f"{url} answered {response.status_code}", status=response.status_code
        )
    if response.status_code == 403:
        raise PermissionDenied(f"{url} answered 403", status=403)
    if response.status_code != 200:
        raise ForgeError(f"{url} answered {response.status_code}", status=response.status_code)
    data = response.json()
    if not isinstance(data, dict):
        raise ForgeError(f"{url} answered no object")
    return data


def github_app_identity(
    *,
    api_url: str,
    app_id: int,
    private_key: SecretStr,
    timeout_s: float = 30.0,
    extra: Iterable[str] = (),
    store: IdentityStore | None = None,
) -> OwnIdentity:
    """A GitHub App posts as ``<slug>[bot]``; the slug from ``GET /app``."""
    api = api_url.rstrip("/")

    def fetch() -> str:
        jwt = Auth.AppAuth(app_id, private_key.get_secret_value()).token
        data = _get_json(
            f"{api}/app",
            {"Authorization": f"Bearer {jwt}", "Accept": "application/vnd.github+json"},
            timeout_s,
        )
        return f"{data['slug']}[bot]"

    return OwnIdentity(
        fetch, key=credential_key("github-app", api, app_id), extra=extra, store=store
    )


def token_identity(
    kind: str,
    *,
    url: str,
    token: SecretStr,
    timeout_s: float = 30.0,
    extra: Iterable[str] = (),
    store: IdentityStore | None = None,
) -> OwnIdentity:
    """A GitHub PAT or a GitLab token: ``GET /user`` (GitLab: ``/api/v4/user``) names it."""
    base = url.rstrip("/")
    secret = token.get_secret_value()
    if kind == "gitlab":
        endpoint, headers, field = f"{base}/api/v4/user", {"PRIVATE-TOKEN": secret}, "username"
    else:
        endpoint = f"{base}/user"
        headers, field = {"Authorization": f"Bearer {secret}"}, "login"

    def fetch() -> str:
        return str(_get_json(endpoint, headers, timeout_s)[field])

    return OwnIdentity(fetch, key=credential_key(kind, base, secret), extra=extra, store=store)


class StaticIdentity:
    """Only configured logins (for code paths that have no forge credentials)."""

    def __init__(self, logins: Iterable[str]) -> None:
        self._logins = frozenset(login.lower() for login in logins if login)

    def logins(self) -> frozenset[str]:
        return self._logins

    def is_ours(self, author: str) -> bool:
        return bool(author) and author.lower() in self._logins


class RedisIdentityStore:
    """Identity answers shared by every worker through Redis, with a TTL."""

    def __init__(self, redis: object, *, prefix: str = "assist:identity:") -> None:
        self._redis = redis
        self._prefix = prefix

    def get(self, key: str) -> str | None:
        value = self._redis.get(self._prefix + key)  # type: ignore[attr-defined]
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def put(self, key: str, login: str, ttl_s: float) -> None:
        self._redis.set(self._prefix + key, login, ex=max(1, int(ttl_s)))  # type: ignore[attr-defined]
