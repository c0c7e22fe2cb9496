"""Run a review with a model client built from Settings (CLI and jobs share this)."""

from __future__ import annotations

from collections.abc import Callable

from bot.llm.model import Model, open_model
from bot.review.pipeline import ReviewInput, ReviewResult, review_diff
from bot.settings import Settings


async def run_review(
    settings: Settings,
    request: ReviewInput,
    *,
    scope: tuple[str, ...],
    already_posted: frozenset[str] = frozenset(),
    progress: Callable[[str], None] | None = None,
    model: Model | None = None,
) -> ReviewResult:
    """Review with ``model`` when given, else with the configured model server's."""

    async def review(with_model: Model) -> ReviewResult:
        return await review_diff(
            request,
            with_model.llm,
            with_model.tokenizer,
            nonce=with_model.nonce(*scope),
            context_tokens=with_model.context_tokens,
            already_posted=already_posted,
            progress=progress,
        )

    if model is not None:
        return await review(model)
    async with open_model(settings) as opened:
        return await review(opened)
