"""Prompt layout, stable prefix first, and trimming it to the model's context.

A review sends many prompts that share their beginning: the system prompt (instructions, the
untrusted-data rules, the answer schema) and the repository-wide context (PR title and body,
repository map). vLLM's prefix cache reuses the KV blocks of a shared token prefix, so these
parts go first and are byte-identical across the calls of a job; the per-file parts (the
file's diff, its surrounding code) come last.

Trimming cuts sections from their end, with the model's own tokenizer, per-file sections first
(the last first), so that the shared prefix stays the same whenever possible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

from bot.llm import fencing, structured
from bot.llm.errors import PromptTooLongError
from bot.llm.protocol import Tokenizer
from bot.llm.types import Message

TRUNCATED = "\n[... {count} tokens cut to fit the context ...]\n"


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the user message.

    ``untrusted`` text is fenced as data of kind ``kind``; ``trimmable`` sections may be cut
    from the end to fit the context, down to ``min_tokens``.
    """

    title: str
    text: str
    kind: str = "data"
    untrusted: bool = True
    trimmable: bool = True
    min_tokens: int = 0


@dataclass(frozen=True, slots=True)
class PromptLayout:
    """System instructions, then shared (per-job) sections, then specific (per-call) ones."""

    instructions: str
    shared: tuple[Section, ...] = ()
    specific: tuple[Section, ...] = ()
    nonce: str = "0000000000000000"

    def messages(self) -> list[Message]:
        system = f"{self.instructions}\n\n{fencing.system_rules(self.nonce)}"
        blocks = [self._render(section) for section in (*self.shared, *self.specific)]
        return [Message("system", system), Message("user", "\n\n".join(blocks))]

    def _render(self, section: Section) -> str:
        body = (
            fencing.fence(section.text, kind=section.kind, nonce=self.nonce)
            if section.untrusted
            else section.text
        )
        return f"## {section.title}\n{body}"


async def fit(
    layout: PromptLayout,
    tokenizer: Tokenizer,
    *,
    context_tokens: int,
    reserve_tokens: int,
    rounds: int = 4,
    answer: type[BaseModel] | None = None,
    schema: Mapping[str, Any] | None = None,
) -> PromptLayout:
    """``layout`` trimmed so that its prompt plus ``reserve_tokens`` fits ``context_tokens``.

    ``answer``: the schema a structured call will add to the prompt (``complete_json``), so
    it is counted too (``schema``: the sized schema sent instead of ``answer``'s own).
    Raises :class:`PromptTooLongError` when the untrimmable parts alone do not fit.
    """

    def sent(candidate: PromptLayout) -> list[Message]:
        messages = candidate.messages()
        return structured.with_schema(messages, answer, schema) if answer is not None else messages

    budget = context_tokens - reserve_tokens
    fitted = layout
    total = await tokenizer.count_chat(sent(fitted))
    cut = 0
    encoded: dict[str, list[int]] = {}  # each original section tokenised once, not per round
    for _ in range(rounds):
        if total <= budget:
            return fitted
        # Cut more from the original each round: token boundaries at the new ends merge
        # differently, so one exact cut is not guaranteed to land within the budget.
        cut += total - budget
        fitted = await _trim(layout, _Memo(tokenizer, encoded), excess=cut)
        total = await tokenizer.count_chat(sent(fitted))
    if total <= budget:
        return fitted
    raise PromptTooLongError(
        f"the prompt needs {total} tokens but only {budget} fit "
        f"({context_tokens} context - {reserve_tokens} for the answer)",
        tokens=total,
        budget=budget,
    )


class _Memo:
    """``tokenizer``'s encodings remembered in ``encoded`` (one ``fit`` call's sections)."""

    def __init__(self, tokenizer: Tokenizer, encoded: dict[str, list[int]]) -> None:
        self.tokenizer = tokenizer
        self._encoded = encoded

    async def encode(self, text: str) -> list[int]:
        if text not in self._encoded:
            self._encoded[text] = await self.tokenizer.encode(text)
        return self._encoded[text]


async def _trim(layout: PromptLayout, tokenizer: _Memo, *, excess: int) -> PromptLayout:
    need = excess
    specific = list(layout.specific)
    shared = list(layout.shared)
    for sections in (specific, shared):
        for index in reversed(range(len(sections))):
            if need <= 0:
                break
            sections[index], saved = await _cut(sections[index], tokenizer, need)
            need -= saved
    return replace(layout, shared=tuple(shared), specific=tuple(specific))


async def _cut(section: Section, tokenizer: _Memo, need: int) -> tuple[Section, int]:
    """The section cut from its end to save ``need`` tokens if it can, and the tokens saved."""
    if not section.trimmable:
        return section, 0
    tokens = await tokenizer.encode(section.text)
    spare = len(tokens) - section.min_tokens
    if spare <= 0:
        return section, 0
    note_tokens = len(await tokenizer.encode(TRUNCATED.format(count=need)))
    cut = min(spare, need + note_tokens)
    if cut <= note_tokens:
        return section, 0
    kept = await tokenizer.tokenizer.decode(tokens[: len(tokens) - cut])
    return replace(section, text=kept + TRUNCATED.format(count=cut)), cut - note_tokens
