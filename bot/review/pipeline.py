"""Review a diff with the model: per-file calls in parallel, answers in a JSON schema,
findings placed by their quoted code, filtered and deduplicated. No forge I/O here: the job
posts what this returns, and the CLI prints it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.llm import LLM, ModelOutputError, PromptTooLongError, Tokenizer, Usage, fit
from bot.repoconfig import RepoConfig, Severity
from bot.review.anchor import Anchor, Unplaced, place
from bot.review.context import ParseCache, file_context
from bot.review.diff import FileDiff, LineKind, parse_diff
from bot.review.filters import skip_reason
from bot.review.findings import Finding, FindingsAnswer, fingerprint
from bot.review.prompt import review_layout
from bot.review.scoring import Candidate, score
from bot.review.suggest import SuggestionKind, classify

_RANK = {"info": 0, "minor": 1, "major": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class PlacedFinding:
    finding: Finding
    anchor: Anchor
    fingerprint: str
    confidence: float | None = None  # the second pass's score; None when not scored
    suggestion: SuggestionKind | None = None  # how the replacement may be offered
    original: str = ""  # the anchored new-side lines as they are in the file


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
    dropped_low_confidence: int = 0
    already_posted: int = 0  # findings found again that were posted before
    scoring_note: str = ""  # why the second pass did not score, when it did not


@dataclass(frozen=True, slots=True)
class ReviewInput:
    title: str
    body: str
    diff: str
    config: RepoConfig
    context: Mapping[str, str] = field(default_factory=dict)  # path -> surrounding code
    sources: Mapping[str, str] = field(default_factory=dict)  # path -> new-side file text
    skip: Mapping[str, str] = field(default_factory=dict)  # path -> why it is not reviewed
    related: Mapping[str, str] = field(default_factory=dict)  # path -> code found elsewhere


async def _review_file(
    llm: LLM,
    tokenizer: Tokenizer,
    request: ReviewInput,
    file: FileDiff,
    *,
    nonce: str,
    context_tokens: int,
    answer_tokens: int,
    cache: ParseCache,
) -> list[Finding] | str:
    context = request.context.get(file.path)
    if context is None:
        context = file_context(file, request.sources, cache=cache)
    related = request.related.get(file.path)
    if related:
        context = f"{context}\n\n# related code elsewhere in the repository\n{related}".strip()
    layout = review_layout(
        title=request.title,
        body=request.body,
        file=file,
        instructions=request.config.review.instructions,
        nonce=nonce,
        context=context,
    )
    try:
        fitted = await fit(
            layout,
            tokenizer,
            context_tokens=context_tokens,
            reserve_tokens=answer_tokens,
            answer=FindingsAnswer,
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
        reason = request.skip.get(file.path) or skip_reason(file, config)
        if reason is None and config.review.languages and not _language_ok(file, config):
            reason = "language not enabled in .assist.toml"
        (skipped.append((file.path, reason)) if reason else todo.append(file))
    cache = ParseCache(request.sources)  # each source parsed once for the whole review
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
                cache=cache,
            )
            for file in todo
        )
    )
    minimum = config.min_severity
    placed: dict[str, PlacedFinding] = {}
    unplaced: list[UnplacedFinding] = []
    seen_before = 0
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
            if key in already_posted:
                seen_before += 1
                continue
            if key in placed:
                continue
            placed[key] = PlacedFinding(
                finding,
                result,
                key,
                suggestion=_suggestion(finding, result, request.sources),
                original=_anchored_text(file, result),
            )
    kept, dropped, note = await _second_pass(
        list(placed.values()),
        {f.path: f for f in todo},
        llm,
        tokenizer,
        threshold=config.review.min_confidence,
        nonce=nonce,
        context_tokens=context_tokens,
    )
    ranked = sorted(
        kept,
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
        dropped_low_confidence=dropped,
        already_posted=seen_before,
        scoring_note=note,
    )


def _suggestion(
    finding: Finding, anchor: Anchor, sources: Mapping[str, str]
) -> SuggestionKind | None:
    if finding.replacement is None:
        return None
    return classify(
        anchor.path,
        sources.get(anchor.path),
        anchor.start_line,
        anchor.end_line,
        finding.replacement,
    )


def _anchored_text(file: FileDiff, anchor: Anchor) -> str:
    return "".join(
        line.text + "\n"
        for hunk in file.hunks
        for line in hunk.new_side()
        if line.new_no is not None and anchor.start_line <= line.new_no <= anchor.end_line
    )


def _snippet(file: FileDiff, anchor: Anchor, around: int = 3) -> str:
    """The anchored lines with a few new-side lines around them, numbered."""
    out = []
    for hunk in file.hunks:
        for line in hunk.new_side():
            n = line.new_no or 0
            if anchor.start_line - around <= n <= anchor.end_line + around:
                mark = "+" if line.kind is LineKind.ADDED else " "
                out.append(f"{n:>6} {mark}{line.text}")
    return "\n".join(out)


async def _second_pass(
    placed: list[PlacedFinding],
    files: Mapping[str, FileDiff],
    llm: LLM,
    tokenizer: Tokenizer,
    *,
    threshold: float,
    nonce: str,
    context_tokens: int,
) -> tuple[list[PlacedFinding], int, str]:
    """Score the placed findings and keep those at or above ``threshold`` (0 turns it off)."""
    if threshold <= 0 or not placed:
        return placed, 0, ""
    candidates = [
        Candidate(p.finding, p.anchor.path, _snippet(files[p.anchor.path], p.anchor))
        for p in placed
    ]
    scored = await score(llm, tokenizer, candidates, nonce=nonce, context_tokens=context_tokens)
    kept: list[PlacedFinding] = []
    for p, confidence in zip(placed, scored.confidences, strict=True):
        if confidence is not None and confidence < threshold:
            continue
        kept.append(replace(p, confidence=confidence))
    return kept, len(placed) - len(kept), scored.failure


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
