"""The model as every feature uses it, built in one place: client, tokenizer, context size
and the fencing nonce for untrusted text.

Entry points open it once per run (:func:`open_model`) and hand it down; a feature given a
:class:`Model` uses that one (tests, evaluation, a shared client), else opens its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.llm.client import OpenAIClient
from bot.llm.config import LLMConfig
from bot.llm.fencing import derive_nonce, new_nonce
from bot.llm.protocol import LLM, Tokenizer
from bot.llm.tokenizer import tokenizer_for
from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class Model:
    llm: LLM
    tokenizer: Tokenizer
    context_tokens: int
    fence_key: bytes | None = None

    def nonce(self, *scope: str) -> str:
        """The fence nonce for this scope: derived from the operator's key (stable per scope,
        so prompts stay cacheable) or, without a key, fresh and random."""
        return derive_nonce(self.fence_key, *scope) if self.fence_key else new_nonce()


def fence_nonce(settings: Settings, *scope: str) -> str:
    """:meth:`Model.nonce` where no model is open yet (a prompt built before the call)."""
    key = settings.llm_fence_key
    return derive_nonce(key.get_secret_value().encode(), *scope) if key else new_nonce()


@asynccontextmanager
async def open_model(settings: Settings) -> AsyncIterator[Model]:
    """The configured model server's client, closed when the block ends."""
    config = LLMConfig.from_settings(settings)
    key = settings.llm_fence_key
    async with OpenAIClient(config) as client:
        yield Model(
            llm=client,
            tokenizer=tokenizer_for(config, client),
            context_tokens=settings.llm_context_tokens,
            fence_key=key.get_secret_value().encode() if key else None,
        )
