"""`/assist ask <question>`: an answer about a change from its diff and surrounding code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain import RepoRef
from bot.forge.protocol import Forge
from bot.llm import (
    LLM,
    PromptLayout,
    PromptTooLongError,
    Section,
    Tokenizer,
    Usage,
    fit,
)
from bot.llm.model import fence_nonce, open_model
from bot.llm.prompts import load
from bot.review.context import ParseCache, file_context
from bot.review.diff import DiffError, FileDiff, parse_diff
from bot.review.prompt import numbered_diff
from bot.review.service import change_sources, read_config
from bot.sanitize import untrusted
from bot.settings import Settings

MAX_ANSWER_CHARS = 6000


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    usage: Usage
    trimmed: bool


def ask_layout(
    *, question: str, title: str, body: str, diffs: str, context: str, nonce: str
) -> PromptLayout:
    """The question and the change are untrusted data; only the instructions are ours."""
    return PromptLayout(
        instructions=load("ask.md"),
        shared=(Section("Pull request", f"{title}\n\n{body}".strip(), kind="pull-request"),),
        specific=(
            Section("Diff", diffs, kind="diff", min_tokens=128),
            Section("Code around the change", context, kind="code"),
            Section("Question", question, kind="question", trimmable=False),
        ),
        nonce=nonce,
    )


async def answer_question(
    llm: LLM,
    tokenizer: Tokenizer,
    layout: PromptLayout,
    *,
    context_tokens: int,
    answer_tokens: int = 700,
) -> Answer:
    try:
        fitted = await fit(
            layout, tokenizer, context_tokens=context_tokens, reserve_tokens=answer_tokens
        )
    except PromptTooLongError:
        return Answer("The question is too long for the model's context.", llm.usage, True)
    completion = await llm.complete(fitted.messages(), max_tokens=answer_tokens)
    # The model read untrusted text (the change, the thread): what it says is posted inert
    # (no mention, reference, HTML, marker or committable suggestion; fences balanced).
    text = untrusted(completion.text.strip()[:MAX_ANSWER_CHARS]).strip()
    text = text or "The model gave no answer."
    if completion.finish_reason == "length":  # a free-text answer: say where it stops
        tokens = completion.usage.completion_tokens or answer_tokens
        text += f"\n\n_(The model's answer was cut at {tokens} tokens.)_"
    return Answer(text, llm.usage, fitted != layout)


async def ask_change(
    settings: Settings,
    forge: Forge,
    repo: RepoRef,
    number: int,
    question: str,
    *,
    default_branch: str | None = None,
) -> Answer:
    change = forge.get_change(repo, number)
    config, _error = read_config(forge, repo, default_branch or change.base_ref)
    diff = forge.get_diff(repo, number)
    try:
        files = parse_diff(diff.unified)
    except DiffError:
        files = ()
    sources = change_sources(forge, change, files, config)
    return await ask_about(
        settings,
        question,
        title=change.title,
        body=change.body,
        files=files,
        sources=sources,
        scope=(repo.forge, repo.path, str(number), "ask"),
    )


async def ask_about(
    settings: Settings,
    question: str,
    *,
    title: str,
    body: str,
    files: Sequence[FileDiff],
    sources: Mapping[str, str],
    scope: tuple[str, ...],
) -> Answer:
    """Answer ``question`` about a change (its diff ``files`` and the new-side ``sources``),
    from a forge (:func:`ask_change`) or a local repository (`assist ask`)."""
    diffs = "\n\n".join(numbered_diff(f) for f in files)
    cache = ParseCache(sources)  # each source parsed once for the whole question
    context = "\n\n".join(text for f in files if (text := file_context(f, sources, cache=cache)))
    nonce = fence_nonce(settings, *scope)
    layout = ask_layout(
        question=question,
        title=title,
        body=body,
        diffs=diffs,
        context=context,
        nonce=nonce,
    )
    async with open_model(settings) as model:
        return await answer_question(
            model.llm, model.tokenizer, layout, context_tokens=model.context_tokens
        )
