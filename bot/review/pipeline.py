"""Review a diff with the model: per-file calls in parallel, answers in a JSON schema,
findings placed by their quoted code, filtered and deduplicated. No forge I/O here: the job
posts what this returns, and the CLI prints it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.llm import LLM, ModelOutputError, PromptTooLongError, Tokenizer, Usage, fit
from bot.repoconfig import RepoConfig, Severity
from bot.review.anchor import Anchor, Unplaced, place
from bot.review.diff import FileDiff, parse_diff
from bot.review.filters import skip_reason
from bot.review.findings import Finding, FindingsAnswer, fingerprint
from bot.review.prompt import review_layout

_RANK = {"info": 0, "minor": 1, "major": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class PlacedFinding:
    finding: Finding
    anchor: Anchor
    fingerprint: str


@dataclass(frozen=True, slots=True)
class UnplacedFinding:
    finding: Finding
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReviewResult:
    placed: tuple[PlacedFinding, ...]
    unplaced: tuple[UnplacedFinding, ...]
    skipped: tuple[tuple[str, str], ...]  # (path, why it was not reviewed)
    files_reviewed: int
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class ReviewInput:
    title: str
    body: str
    diff: str
    config: RepoConfig
    context: Mapping[str, str] = field(default_factory=dict)  # path -> surrounding code


async def _review_file(
    llm: LLM,
    tokenizer: Tokenizer,
    request: ReviewInput,
    file: FileDiff,
    *,
    nonce: str,
    context_tokens: int,
    answer_tokens: int,
) -> list[Finding] | str:
    layout = review_layout(
        title=request.title,
        body=request.body,
        file=file,
        instructions=request.config.review.instructions,
        nonce=nonce,
        context=request.context.get(file.path, ""),
    )
    try:
        fitted = await fit(
            layout, tokenizer, context_tokens=context_tokens, reserve_tokens=answer_tokens
        )
        answer = await llm.complete_json(
            fitted.messages(), FindingsAnswer, max_tokens=answer_tokens
        )
    except PromptTooLongError:
        return "too large for the model's context"
    except ModelOutputError:
        return "the model's answer did not follow the schema"
    return list(answer.value.findings)


async def review_diff(
    request: ReviewInput,
    llm: LLM,
    tokenizer: Tokenizer,
    *,
    nonce: str,
    context_tokens: int,
    answer_tokens: int = 768,
    already_posted: frozenset[str] = frozenset(),
) -> ReviewResult:
    """Review every reviewable file of ``request.diff``; the LLM client bounds concurrency."""
    config = request.config
    files = parse_diff(request.diff)
    skipped: list[tuple[str, str]] = []
    todo: list[FileDiff] = []
    for file in files:
        reason = skip_reason(file, config)
        if reason is None and config.review.languages and not _language_ok(file, config):
            reason = "language not enabled in .assist.toml"
        (skipped.append((file.path, reason)) if reason else todo.append(file))
    answers = await asyncio.gather(
        *(
            _review_file(
                llm,
                tokenizer,
                request,
                file,
                nonce=nonce,
                context_tokens=context_tokens,
                answer_tokens=answer_tokens,
            )
            for file in todo
        )
    )
    minimum = config.min_severity
    placed: dict[str, PlacedFinding] = {}
    unplaced: list[UnplacedFinding] = []
    for file, answer in zip(todo, answers, strict=True):
        if isinstance(answer, str):
            skipped.append((file.path, answer))
            continue
        for finding in answer:
            if Severity.parse(finding.severity.value) < minimum:
                continue
            result = place(file, finding.quoted_code, finding.line)
            if isinstance(result, Unplaced):
                unplaced.append(UnplacedFinding(finding, file.path, result.reason.value))
                continue
            key = fingerprint(file.path, finding.quoted_code, finding.category)
            if key in already_posted or key in placed:
                continue
            placed[key] = PlacedFinding(finding, result, key)
    ranked = sorted(
        placed.values(),
        key=lambda p: (-_RANK[p.finding.severity.value], p.anchor.path, p.anchor.start_line),
    )
    limit = config.review.max_comments
    for extra in ranked[limit:]:
        unplaced.append(
            UnplacedFinding(
                extra.finding, extra.anchor.path, f"over the limit of {limit} inline comments"
            )
        )
    return ReviewResult(
        placed=tuple(ranked[:limit]),
        unplaced=tuple(unplaced),
        skipped=tuple(skipped),
        files_reviewed=len(todo),
        usage=llm.usage,
    )


_EXTENSIONS: Mapping[str, Sequence[str]] = {
    "python": (".py", ".pyi"),
    "javascript": (".js", ".jsx", ".mjs", ".cjs"),
    "typescript": (".ts", ".tsx"),
    "go": (".go",),
    "java": (".java",),
    "rust": (".rs",),
    "c": (".c", ".h"),
    "cpp": (".cc", ".cpp", ".cxx", ".hpp", ".hh"),
    "ruby": (".rb",),
    "csharp": (".cs",),
    "php": (".php",),
}


def _language_ok(file: FileDiff, config: RepoConfig) -> bool:
    return any(
        file.path.endswith(tuple(_EXTENSIONS.get(lang.lower(), ())))
        for lang in config.review.languages
    )
