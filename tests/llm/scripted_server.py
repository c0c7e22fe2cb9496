"""A real OpenAI-compatible HTTP server on loopback, scripted per test.

It runs uvicorn in a thread of the test process and answers ``POST /v1/chat/completions`` with
the replies pushed into its script, in order (a plain "ok" completion when the script is empty).
``/tokenize`` and ``/detokenize`` speak vLLM's protocol with a character-level tokenizer (one
token per character, the code point as id), which makes token counts exact in tests; chat
counting adds 4 tokens per message plus 3 for the generation prompt.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ABORT = "<abort>"
CHAT_FRAME_TOKENS = 4
GENERATION_PROMPT_TOKENS = 3


@dataclass
class Reply:
    """One scripted answer: status, JSON (or raw) body, headers, a delay, or SSE events."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    events: list[Any] | None = None  # SSE: dicts are sent as JSON, strings as they are;
    # the string ABORT drops the connection at that point
    runaway: bool = False  # a model that writes until max_tokens cuts it (see runaway_reply)
    # Held until this many requests were in flight at once (then answered at once), at most
    # ``delay_s``: a test waits for the concurrency it expects instead of racing a delay.
    until_in_flight: int = 0


def chat_reply(
    content: str,
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    cached_tokens: int = 0,
    finish_reason: str = "stop",
    model: str = "scripted-model",
    delay_s: float = 0.0,
) -> Reply:
    return Reply(
        body={
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached_tokens},
            },
        },
        delay_s=delay_s,
    )


def runaway_reply() -> Reply:
    """A model that keeps writing inside a JSON string until ``max_tokens`` cuts it: the
    answer is the request's ``max_tokens`` characters of an unfinished object, reported as
    that many completion tokens with ``finish_reason: length``."""
    return Reply(runaway=True)


def stream_reply(pieces: list[str], *, prompt_tokens: int = 5, model: str = "scripted") -> Reply:
    events: list[Any] = [
        {"model": model, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
    ]
    events += [
        {"model": model, "choices": [{"index": 0, "delta": {"content": piece}}]} for piece in pieces
    ]
    events.append({"model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append(
        {
            "model": model,
            "choices": [],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces)},
        }
    )
    events.append("[DONE]")
    return Reply(events=events)


@dataclass
class Recorded:
    path: str
    body: Any
    headers: dict[str, str]


class ScriptedServer:
    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.fallback: Reply | None = None  # what an empty script answers (default: "ok")
        self.requests: list[Recorded] = []
        self.disconnects = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        # What GET /v1/models reports (the model check every job and command makes first).
        self.served: list[str] = ["scripted"]
        self.max_model_len: int | None = 1_000_000

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def reset(self) -> None:
        self.script.clear()
        self.fallback = None
        self.requests.clear()
        self.disconnects = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = ["scripted"]
        self.max_model_len = 1_000_000

    def chat_requests(self) -> list[Any]:
        return [r.body for r in self.requests if r.path == "/v1/chat/completions"]

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 300
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the scripted server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    # --- the ASGI app -----------------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        body = json.loads(raw) if raw else None
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Recorded(path, body, headers))
        if path == "/health":
            await _send(send, 200, b"")
        elif path == "/tokenize":
            await _send_json(send, 200, _tokenize(body))
        elif path == "/detokenize":
            await _send_json(send, 200, {"prompt": "".join(chr(t) for t in body["tokens"])})
        elif path == "/v1/models":
            models = [
                {"id": name, "object": "model", "max_model_len": self.max_model_len}
                for name in self.served
            ]
            await _send_json(send, 200, {"object": "list", "data": models})
        elif path == "/v1/completions":  # the speed probe; the script is for chat
            text = "5, 6, 7, 8,"
            usage = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
            choice = {"index": 0, "text": text, "finish_reason": "length"}
            await _send_json(send, 200, {"object": "text_completion", "choices": [choice],
                                         "usage": usage})  # fmt: skip
        elif path == "/v1/chat/completions":
            await self._chat(receive, send, body or {})
        else:
            await _send_json(send, 404, {"error": "not found"})

    async def _chat(self, receive: Receive, send: Send, body: dict[str, Any]) -> None:
        reply = self.script.popleft() if self.script else self.fallback or chat_reply("ok")
        if reply.runaway:
            asked = int(body.get("max_tokens") or 16)
            text = '{"findings": [{"explanation": "' + "so " * asked
            reply = chat_reply(text[:asked], completion_tokens=asked, finish_reason="length")
        await self._answer(reply, receive, send)

    async def _answer(self, reply: Reply, receive: Receive, send: Send) -> None:
        # "In flight" ends before the reply is sent: the client may send its next request as
        # soon as it has this reply, and that one must not be counted with this one.
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if reply.until_in_flight:
                await self._hold(reply.until_in_flight, reply.delay_s)
            elif reply.delay_s and not await self._wait(receive, reply.delay_s):
                return
        finally:
            self.in_flight -= 1
        if reply.events is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": reply.status,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            for event in reply.events:
                if event == ABORT:
                    raise ConnectionAbortedError("scripted: drop the connection mid-stream")
                data = event if isinstance(event, str) else json.dumps(event)
                await send(
                    {
                        "type": "http.response.body",
                        "body": f"data: {data}\n\n".encode(),
                        "more_body": True,
                    }
                )
            await send({"type": "http.response.body", "body": b""})
            return
        if isinstance(reply.body, (str, bytes)):
            raw = reply.body.encode() if isinstance(reply.body, str) else reply.body
            await _send(send, reply.status, raw, reply.headers, content_type=b"text/plain")
        else:
            await _send_json(send, reply.status, reply.body or {}, reply.headers)

    async def _hold(self, in_flight: int, limit_s: float) -> None:
        """Until ``in_flight`` requests were in flight together, or ``limit_s`` passed."""
        deadline = time.monotonic() + limit_s
        while self.max_in_flight < in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _wait(self, receive: Receive, delay_s: float) -> bool:
        """Sleep ``delay_s``; False (and a recorded disconnect) if the client goes away."""
        sleeper = asyncio.ensure_future(asyncio.sleep(delay_s))
        listener = asyncio.ensure_future(receive())
        done, _ = await asyncio.wait({sleeper, listener}, return_when=asyncio.FIRST_COMPLETED)
        if listener in done and listener.result().get("type") == "http.disconnect":
            sleeper.cancel()
            self.disconnects += 1
            return False
        listener.cancel()
        await sleeper
        return True


def _tokenize(body: dict[str, Any]) -> dict[str, Any]:
    if "messages" in body:
        count = sum(
            len(m["role"]) + len(m["content"]) + CHAT_FRAME_TOKENS for m in body["messages"]
        )
        count += GENERATION_PROMPT_TOKENS
        return {"count": count, "max_model_len": 2048, "tokens": list(range(count))}
    tokens = [ord(c) for c in body["prompt"]]
    return {"count": len(tokens), "max_model_len": 2048, "tokens": tokens}


async def _send(
    send: Send,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    content_type: bytes = b"application/json",
) -> None:
    raw_headers = [(b"content-type", content_type)]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _send_json(
    send: Send, status: int, data: Any, headers: dict[str, str] | None = None
) -> None:
    await _send(send, status, json.dumps(data).encode(), headers)


def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
