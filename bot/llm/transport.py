"""HTTP attempts with replica choice, retries, backoff, timeouts and a concurrency limit.

Retried: connection errors, timeouts, 429 (on another replica when there is one, after the
server's ``Retry-After``), 5xx and 200 replies whose body is not JSON. Not retried: other 4xx
(:class:`LLMRequestError`). Cancelling the awaiting task closes the connection, which makes vLLM
abort the request; in-flight counts and the concurrency slot are released either way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bot.llm.backoff import parse_retry_after, retry_delay
from bot.llm.config import LLMConfig, server_root
from bot.llm.errors import LLMRequestError, LLMUnavailableError
from bot.llm.replicas import ReplicaSet

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful reply; ``elapsed_s`` runs from the first attempt's start (after waiting for
    a concurrency slot) to the reply, retries and backoff included."""

    data: dict[str, Any]
    replica: str
    retries: int
    elapsed_s: float


class _Retryable(Exception):
    def __init__(
        self,
        reason: str,
        *,
        status: int | None,
        retry_after: float | None,
        too_slow: bool = False,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after
        self.too_slow = too_slow  # the whole answer did not come in time: same size, same end


class Transport:
    def __init__(
        self,
        config: LLMConfig,
        http: httpx.AsyncClient,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.http = http
        self.replicas = ReplicaSet(
            config.base_urls,
            cooldown_s=config.cooldown_s,
            max_cooldown_s=config.max_cooldown_s,
            clock=clock,
        )
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._semaphore = asyncio.Semaphore(config.max_concurrency)
        self._headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}

    @staticmethod
    def url(replica: str, path: str) -> str:
        """``path`` under /v1 (``chat/completions``) or at the root (``/tokenize``)."""
        return server_root(replica) + path if path.startswith("/") else f"{replica}/{path}"

    async def post_json(self, path: str, body: dict[str, Any]) -> Reply:
        """POST ``body`` and return the JSON reply, retrying and failing over as needed."""

        async def attempt(replica: str) -> dict[str, Any]:
            try:
                async with asyncio.timeout(self.config.timeout_s):
                    response = await self.http.post(
                        self.url(replica, path), json=body, headers=self._headers
                    )
            except TimeoutError as error:
                raise _Retryable(
                    "timed out", status=None, retry_after=None, too_slow=True
                ) from error
            self._check(response)
            try:
                data = response.json()
            except ValueError as error:
                raise _Retryable("reply is not JSON", status=200, retry_after=None) from error
            if not isinstance(data, dict):
                raise _Retryable("reply is not a JSON object", status=200, retry_after=None)
            return data

        return await self._with_retries(attempt)

    @asynccontextmanager
    async def open_stream(
        self, path: str, body: dict[str, Any]
    ) -> AsyncIterator[tuple[httpx.Response, Reply]]:
        """A streaming response whose status is 200, and the :class:`Reply` that opened it.

        Retries happen only before the first byte of the body; the concurrency slot is held
        until the stream is closed.
        """
        stack: list[tuple[httpx.Response, str]] = []

        async def attempt(replica: str) -> dict[str, Any]:
            request = self.http.build_request(
                "POST", self.url(replica, path), json=body, headers=self._headers
            )
            try:
                async with asyncio.timeout(self.config.timeout_s):
                    response = await self.http.send(request, stream=True)
            except TimeoutError as error:
                raise _Retryable("timed out", status=None, retry_after=None) from error
            try:
                if response.status_code != 200:
                    await response.aread()
                self._check(response)
            except BaseException:
                await response.aclose()
                raise
            stack.append((response, replica))
            return {}

        reply = await self._with_retries(attempt, hold_slot=True)
        response, replica = stack[-1]
        try:
            yield response, reply
        finally:
            await response.aclose()
            self.replicas.finished(replica)
            self._semaphore.release()

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        if status in _RETRY_STATUSES:
            raise _Retryable(
                f"HTTP {status}",
                status=status,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        text = response.text[:2000]
        raise LLMRequestError(
            f"model server refused the request: HTTP {status}: {text}", status=status, body=text
        )

    async def _with_retries(
        self,
        attempt: Callable[[str], Awaitable[dict[str, Any]]],
        *,
        hold_slot: bool = False,
    ) -> Reply:
        avoid: set[str] = set()
        last: _Retryable | None = None
        tries = self.config.max_retries + 1
        began: float | None = None
        for number in range(tries):
            if last is not None:
                await self._sleep(
                    retry_delay(
                        number,
                        base_s=self.config.backoff_base_s,
                        max_s=self.config.backoff_max_s,
                        retry_after_s=last.retry_after,
                        rng=self._rng,
                    )
                )
            await self._semaphore.acquire()
            if began is None:
                began = self._clock()
            replica = self.replicas.choose(avoid=frozenset(avoid))
            self.replicas.started(replica)
            keep = False
            try:
                data = await attempt(replica)
            except (_Retryable, httpx.TransportError) as error:
                last = self._as_retryable(error)
                avoid.add(replica)
                if last.too_slow and not [u for u in self.replicas.urls if u not in avoid]:
                    # Sent again at the same size to a replica that already ran out of time,
                    # it would time out again: say so now instead of after every retry.
                    raise LLMUnavailableError(
                        f"timed out: the model at {replica} did not finish the answer within "
                        f"{self.config.timeout_s:g} s; it is too slow for this request "
                        "(raise ASSIST_LLM_TIMEOUT_S or lower ASSIST_LLM_MAX_CONCURRENCY)",
                        attempts=number + 1,
                        last_status=None,
                    ) from error
                if last.status != 429:  # a 429 is a live, busy replica: not a failure
                    self.replicas.failed(replica)
                log.warning(
                    "model request to %s failed (%s), attempt %d of %d",
                    replica,
                    last,
                    number + 1,
                    tries,
                )
                continue
            else:
                self.replicas.succeeded(replica)
                keep = hold_slot
                return Reply(data, replica, number, self._clock() - began)
            finally:
                if not keep:
                    self.replicas.finished(replica)
                    self._semaphore.release()
        assert last is not None
        raise LLMUnavailableError(
            f"no model replica answered after {tries} attempt(s): {last}",
            attempts=tries,
            last_status=last.status,
        )

    @staticmethod
    def _as_retryable(error: Exception) -> _Retryable:
        if isinstance(error, _Retryable):
            return error
        if isinstance(error, httpx.TimeoutException):
            return _Retryable("timed out", status=None, retry_after=None)
        return _Retryable(
            f"{type(error).__name__}: {error}".rstrip(": "), status=None, retry_after=None
        )
