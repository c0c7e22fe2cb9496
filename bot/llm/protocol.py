"""The two small protocols the rest of the bot depends on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from bot.llm.types import Completion, M, Message, StreamEvent, Structured, Usage


class LLM(Protocol):
    """A chat model. Implemented by :class:`bot.llm.client.OpenAIClient`."""

    @property
    def usage(self) -> Usage:
        """Everything this client spent since it was built."""
        ...

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
    ) -> Completion: ...

    async def complete_json(
        self,
        messages: Sequence[Message],
        output: type[M],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        schema: Mapping[str, Any] | None = None,
    ) -> Structured[M]: ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
    ) -> AsyncIterator[StreamEvent]: ...


class Tokenizer(Protocol):
    """The served model's own tokenizer (vLLM's /tokenize, or its tokenizer.json)."""

    async def encode(self, text: str) -> list[int]: ...

    async def decode(self, tokens: Sequence[int]) -> str: ...

    async def count_chat(self, messages: Sequence[Message]) -> int:
        """Tokens of the whole prompt, chat template and generation prompt included."""
        ...
