"""What both adapters do around every API call, written once.

One client per token (the newest kept), the token refreshed once when the forge says it is no
longer valid, transient failures retried (writes only on statuses where a retry cannot post
twice), the library's errors turned into ours, and the identity that decides which comments
are our own (a marker counts only on a comment our identity wrote).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from bot.domain import RepoRef
from bot.forge.auth import TokenSource
from bot.forge.errors import ForgeError, ForgeUnavailable
from bot.forge.identity import Identity
from bot.forge.retry import RETRYABLE_WRITE, retry_transient
from bot.forge.types import Comment

C = TypeVar("C")
T = TypeVar("T")


class ForgeCalls(Generic[C]):
    def __init__(
        self,
        *,
        tokens: TokenSource,
        make_client: Callable[[str], C],
        map_error: Callable[[Exception], ForgeError | None],
        identity: Identity,
        expired: tuple[type[Exception], ...] = (),
        attempts: int = 3,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._tokens = tokens
        self._make_client = make_client
        self._map_error = map_error
        self._identity = identity
        self._expired = expired
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._clients: dict[str, C] = {}

    def client(self, token: str) -> C:
        """The library client for ``token``; a new token (refreshed, or another repository's)
        replaces the old client, so at most one is kept."""
        if token not in self._clients:
            self._clients.clear()
            self._clients[token] = self._make_client(token)
        return self._clients[token]

    def run(self, repo: RepoRef, fn: Callable[[C], T], *, write: bool = False) -> T:
        """``fn`` with a client for ``repo``'s token, under the rules above."""

        def once() -> T:
            token = self._tokens.token(repo)
            try:
                try:
                    return fn(self.client(token))
                except self._expired:
                    if not self._tokens.invalidate(repo, token):
                        raise
                    return fn(self.client(self._tokens.token(repo)))
            except ForgeError:
                raise
            except Exception as error:
                mapped = self._map_error(error)
                if mapped is None:
                    raise
                raise mapped from error

        def transient(error: Exception) -> bool:
            if not isinstance(error, ForgeUnavailable):
                return False
            return not write or error.status in RETRYABLE_WRITE

        return retry_transient(
            once,
            is_transient=transient,
            attempts=self._attempts,
            backoff_s=self._backoff_s,
            sleep=self._sleep,
        )

    def own_logins(self) -> frozenset[str]:
        return self._identity.logins()

    def is_ours(self, comment: Comment, marker: str | None) -> bool:
        """Written by our own identity (and carrying ``marker``, when one is given): no
        identity, no trust."""
        if not self._identity.is_ours(comment.author):
            return False
        return marker is None or marker in comment.body
