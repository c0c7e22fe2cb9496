"""Run a review with a model client built from Settings (CLI and jobs share this)."""

from __future__ import annotations

from collections.abc import Callable

from bot.llm import LLMConfig, OpenAIClient, derive_nonce, new_nonce, tokenizer_for
from bot.review.pipeline import ReviewInput, ReviewResult, review_diff
from bot.settings import Settings


async def run_review(
    settings: Settings,
    request: ReviewInput,
    *,
    scope: tuple[str, ...],
    already_posted: frozenset[str] = frozenset(),
    progress: Callable[[str], None] | None = None,
) -> ReviewResult:
    config = LLMConfig.from_settings(settings)
    key = settings.llm_fence_key
    nonce = derive_nonce(key.get_secret_value().encode(), *scope) if key else new_nonce()
    async with OpenAIClient(config) as client:
        return await review_diff(
            request,
            client,
            tokenizer_for(config, client),
            nonce=nonce,
            context_tokens=settings.llm_context_tokens,
            already_posted=already_posted,
            progress=progress,
        )
