"""The OpenAI-compatible chat-completions client (vLLM, llama.cpp server, Ollama, TGI).

Build one per job in the entry point (``OpenAIClient(LLMConfig.from_settings(settings))``): its
``usage`` is what that job spent, and its concurrency limit is the job's. Construction does no
I/O; close it with ``await client.aclose()`` or ``async with``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel

from bot.llm import structured
from bot.llm.config import LLMConfig, server_root
from bot.llm.errors import AnswerCutOffError, LLMError, LLMUnavailableError, ModelOutputError
from bot.llm.metrics import LLMMetrics
from bot.llm.transport import Sleep, Transport
from bot.llm.types import (
    Completion,
    FinishReason,
    M,
    Message,
    StreamDone,
    StreamEvent,
    Structured,
    TextDelta,
    Usage,
)


class OpenAIClient:
    """Implements :class:`bot.llm.protocol.LLM` and :class:`bot.llm.protocol.Tokenizer`."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        http: httpx.AsyncClient | None = None,
        metrics: LLMMetrics | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s),
            limits=httpx.Limits(max_connections=max(config.max_concurrency * 2, 10)),
        )
        self._transport = Transport(config, self._http, sleep=sleep, clock=clock, rng=rng)
        self._metrics = metrics
        self._clock = clock
        self._usage = Usage()

    async def __aenter__(self) -> OpenAIClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    @property
    def usage(self) -> Usage:
        return self._usage

    def healthy_replicas(self) -> list[str]:
        """Base URLs not cooling down after a failure."""
        return self._transport.replicas.healthy()

    async def probe(self) -> dict[str, bool]:
        """Ask every replica's ``/health`` (one attempt each, no retries) and record the answers.

        Optional: failures seen by real requests already steer traffic; a probe finds dead
        replicas before a job's first call and revives recovered ones early.
        """

        async def one(url: str) -> bool:
            try:
                async with asyncio.timeout(min(self.config.timeout_s, 10.0)):
                    response = await self._http.get(f"{server_root(url)}/health")
            except (TimeoutError, httpx.HTTPError):
                return False
            return response.status_code == 200

        urls = self._transport.replicas.urls
        answers = await asyncio.gather(*[one(url) for url in urls])
        for url, ok in zip(urls, answers, strict=True):
            if ok:
                self._transport.replicas.succeeded(url)
            else:
                self._transport.replicas.failed(url)
        return dict(zip(urls, answers, strict=True))

    # --- chat -------------------------------------------------------------------------------

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
    ) -> Completion:
        body = self._body(messages, max_tokens=max_tokens, temperature=temperature, stop=stop)
        return await self._measured("chat", body)

    async def complete_json(
        self,
        messages: Sequence[Message],
        output: type[M],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        schema: Mapping[str, Any] | None = None,
    ) -> Structured[M]:
        """A schema-constrained answer validated as ``output``.

        ``schema``: the sized schema to send (``bot.llm.budget``) instead of ``output``'s own;
        the answer is validated with ``output`` either way. An invalid answer that ended on its
        own gets one repair request; an answer cut at ``max_tokens`` does not (the same request
        would be cut again) and raises :class:`AnswerCutOffError` at once, for the caller to ask
        again with a smaller allowance. Raises :class:`ModelOutputError` when the repaired
        answer is still invalid (:class:`AnswerCutOffError` when the repair was cut).
        """
        prompt = structured.with_schema(messages, output, schema)
        fmt = structured.response_format(output, schema)
        first = await self._measured(
            "json", self._body(prompt, max_tokens=max_tokens, temperature=temperature, fmt=fmt)
        )
        parsed = structured.parse(first.text, output)
        if not isinstance(parsed, str):
            return Structured(parsed, first, repaired=False)
        if first.finish_reason == "length":
            self._account("json", Usage(failures=1), outcome="cut_off")
            raise _cut_off(output, first, max_tokens, parsed)
        repair = structured.repair_messages(prompt, first.text, parsed)
        if await self._repair_tokens(repair, first) + max_tokens > self.config.context_tokens:
            # The repair re-sends the prompt and this answer: the server would refuse it.
            self._account("json", Usage(failures=1), outcome="invalid_output")
            raise ModelOutputError(
                f"the model's answer is not a valid {output.__name__}, and a repair (the "
                f"prompt, this answer and {max_tokens} more tokens) would not fit the "
                f"model's {self.config.context_tokens}-token context",
                raw=first.text,
                problems=parsed,
            )
        second = await self._measured(
            "json_repair",
            self._body(
                repair,
                max_tokens=max_tokens,
                temperature=temperature,
                fmt=fmt,
            ),
            repair=True,
        )
        reparsed = structured.parse(second.text, output)
        if isinstance(reparsed, str):
            if second.finish_reason == "length":
                self._account("json", Usage(failures=1), outcome="cut_off")
                raise _cut_off(output, second, max_tokens, reparsed)
            self._account("json", Usage(failures=1), outcome="invalid_output")
            raise ModelOutputError(
                f"the model's answer is not a valid {output.__name__} after one repair attempt",
                raw=second.text,
                problems=reparsed,
            )
        both = Completion(
            second.text,
            second.finish_reason,
            second.model,
            second.replica,
            first.usage + second.usage,
        )
        return Structured(reparsed, both, repaired=True)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
    ) -> AsyncIterator[StreamEvent]:
        """Text deltas as they are generated, then one :class:`StreamDone` with the usage.

        A consumer that stops early should close the generator (``contextlib.aclosing``) so
        that the connection and the concurrency slot are released at once.
        """
        body = self._body(messages, max_tokens=max_tokens, temperature=temperature)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        started = self._clock()
        usage = Usage(requests=1)
        parts: list[str] = []
        finish: FinishReason = "other"
        model = self.config.model
        try:
            async with self._transport.open_stream("chat/completions", body) as opened:
                response, reply = opened
                usage += Usage(retries=reply.retries)
                opened_at = self._clock()
                try:
                    async for line in response.aiter_lines():
                        chunk = _sse_data(line)
                        if chunk is None:
                            continue
                        model = str(chunk.get("model") or model)
                        if chunk.get("usage"):
                            usage += _usage_of(chunk["usage"])
                        for choice in chunk.get("choices") or ():
                            text = (choice.get("delta") or {}).get("content") or ""
                            if choice.get("finish_reason"):
                                finish = _finish(choice["finish_reason"])
                            if text:
                                parts.append(text)
                                yield TextDelta(text)
                except httpx.HTTPError as error:
                    raise LLMUnavailableError(
                        f"the stream from {reply.replica} broke off: {error}",
                        attempts=reply.retries + 1,
                        last_status=200,
                    ) from error
                usage += Usage(latency_s=reply.elapsed_s + self._clock() - opened_at)
        except LLMError:
            failed = usage + Usage(failures=1, latency_s=self._clock() - started)
            self._account("stream", failed, outcome="failed")
            raise
        self._account("stream", usage, outcome="ok")
        yield StreamDone(Completion("".join(parts), finish, model, reply.replica, usage))

    # --- tokenizer (the served model's own, through vLLM) ----------------------------------

    async def encode(self, text: str) -> list[int]:
        reply = await self._transport.post_json(
            "/tokenize",
            {"model": self.config.model, "prompt": text, "add_special_tokens": False},
        )
        return [int(token) for token in reply.data["tokens"]]

    async def decode(self, tokens: Sequence[int]) -> str:
        reply = await self._transport.post_json(
            "/detokenize", {"model": self.config.model, "tokens": list(tokens)}
        )
        return str(reply.data["prompt"])

    async def count_chat(self, messages: Sequence[Message]) -> int:
        reply = await self._transport.post_json(
            "/tokenize",
            {
                "model": self.config.model,
                "messages": [message.as_json() for message in messages],
                "add_generation_prompt": True,
            },
        )
        return int(reply.data["count"])

    # --- internals --------------------------------------------------------------------------

    async def _repair_tokens(self, repair: Sequence[Message], first: Completion) -> int:
        """The repair prompt's size: the larger of the server's count of it (the prompt, the
        invalid answer and the repair instruction) and the first request's reported usage
        with a margin for the instruction (either may be missing)."""
        used = first.usage.prompt_tokens + first.usage.completion_tokens
        reported = used + 64 if used else 0
        try:
            return max(await self.count_chat(repair), reported)
        except LLMError:
            return reported

    def _body(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
        fmt: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [message.as_json() for message in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if stop:
            body["stop"] = list(stop)
        if fmt is not None:
            body["response_format"] = fmt
        if self.config.seed is not None:
            body["seed"] = self.config.seed
        return body

    async def _measured(
        self, kind: str, body: dict[str, Any], *, repair: bool = False
    ) -> Completion:
        started = self._clock()
        base = Usage(requests=1, repairs=int(repair))
        try:
            reply = await self._transport.post_json("chat/completions", body)
        except LLMError:
            spent = base + Usage(failures=1, latency_s=self._clock() - started)
            self._account(kind, spent, outcome="failed")
            raise
        data = reply.data
        usage = base + Usage(retries=reply.retries, latency_s=reply.elapsed_s)
        usage += _usage_of(data.get("usage") or {})
        choice = (data.get("choices") or [{}])[0]
        text = (choice.get("message") or {}).get("content") or ""
        completion = Completion(
            text,
            _finish(choice.get("finish_reason")),
            str(data.get("model") or body["model"]),
            reply.replica,
            usage,
        )
        self._account(kind, usage, outcome="ok")
        return completion

    def _account(self, kind: str, usage: Usage, *, outcome: str) -> None:
        self._usage += usage
        if self._metrics is not None:
            self._metrics.record(self.config.model, kind, usage, outcome=outcome)


def _usage_of(raw: dict[str, Any]) -> Usage:
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_prompt_tokens=int(details.get("cached_tokens") or 0),
    )


def _finish(reason: object) -> FinishReason:
    if reason == "stop":
        return "stop"
    if reason == "length":
        return "length"
    return "other"


def _cut_off(
    output: type[BaseModel], completion: Completion, max_tokens: int, problems: str
) -> AnswerCutOffError:
    tokens = completion.usage.completion_tokens or max_tokens
    return AnswerCutOffError(
        f"the model's answer was cut at {tokens} tokens (max_tokens {max_tokens}) "
        f"before its {output.__name__} was complete",
        raw=completion.text,
        problems=problems,
        tokens=tokens,
        max_tokens=max_tokens,
    )


def _sse_data(line: str) -> dict[str, Any] | None:
    if not line.startswith("data:"):
        return None
    payload = line[len("data:") :].strip()
    if not payload or payload == "[DONE]":
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


if TYPE_CHECKING:
    from bot.llm.protocol import LLM, Tokenizer

    def _conforms(client: OpenAIClient) -> tuple[LLM, Tokenizer]:
        return client, client
