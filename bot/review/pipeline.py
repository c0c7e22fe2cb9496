"""Review a diff with the model: per-file calls in parallel, answers in a JSON schema,
findings placed by their quoted code, filtered and deduplicated. No forge I/O here: the job
posts what this returns, and the CLI prints it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.llm import (
    LLM,
    Allowance,
    AnswerCutOffError,
    BudgetError,
    Message,
    ModelOutputError,
    PromptTooLongError,
    Tokenizer,
    Usage,
    fit,
    sizer_for,
    structured,
)
from bot.repoconfig import RepoConfig
from bot.review.anchor import Anchor, Unplaced, place
from bot.review.context import ParseCache, file_context
from bot.review.diff import FileDiff, LineKind, parse_diff
from bot.review.filters import skip_reason
from bot.review.findings import Finding, FindingsAnswer, fingerprint
from bot.review.hunks import hunk_groups, with_hunks
from bot.review.prompt import numbered_diff, review_layout
from bot.review.scoring import Candidate, score
from bot.review.suggest import SuggestionKind, classify

DEFAULT_ANSWER_TOKENS = 768
TOKENS_PER_FINDING = 768  # one finding per this many answer tokens, at most MAX_FINDINGS
MAX_FINDINGS = 8

# Why a file was not reviewed, as the summaries group them.
CUT_OFF = "the model's answer was cut"
NOT_SCHEMA = "the model's answer did not follow the schema"
TOO_LARGE = "too large for the model's context"


@dataclass(frozen=True, slots=True)
class PlacedFinding:
    finding: Finding
    anchor: Anchor
    fingerprint: str
    confidence: float | None = None  # the second pass's score; None when not scored
    suggestion: SuggestionKind | None = None  # how the replacement may be offered
    original: str = ""  # the anchored new-side lines as they are in the file
    # the exact messages of the request the finding came from (answer schema included)
    prompt: tuple[Message, ...] = ()


@dataclass(frozen=True, slots=True)
class UnplacedFinding:
    finding: Finding
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReviewResult:
    """``skipped``: files not reviewed by policy (filters, unchanged, .assist.toml);
    ``failed``: reviewable files the model did not review (cut off, invalid, too large);
    ``files_reviewed``: files whose answer parsed."""

    placed: tuple[PlacedFinding, ...]
    unplaced: tuple[UnplacedFinding, ...]
    skipped: tuple[tuple[str, str], ...]  # (path, why it was not reviewed)
    files_reviewed: int
    usage: Usage = field(default_factory=Usage)
    dropped_low_confidence: int = 0
    already_posted: int = 0  # findings found again that were posted before
    scoring_note: str = ""  # why the second pass did not score, when it did not
    # findings dropped only because this repository's learned threshold for their category
    # is above min_confidence: (category, title, confidence, threshold)
    learned_drops: tuple[tuple[str, str, float, float], ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (path, why the model did not review it)
    # failed files whose other hunk groups were reviewed (their findings are kept)
    partly_reviewed: tuple[str, ...] = ()

    @property
    def reviewable(self) -> int:
        return self.files_reviewed + len(self.failed)

    @property
    def complete(self) -> bool:
        """Every reviewable file was reviewed (so "no problems found" may be said)."""
        return not self.failed

    @property
    def review_failed(self) -> bool:
        """There was something to review and the model reviewed none of it."""
        return self.files_reviewed == 0 and bool(self.failed) and not self.partly_reviewed

    def headline(self) -> str:
        """One honest sentence: how much was reviewed, and why the rest was not."""
        if not self.failed:
            return f"Reviewed {self.files_reviewed} of {self.reviewable} file(s)."
        return (
            f"Reviewed {self.files_reviewed} of {self.reviewable} file(s): "
            f"{_failure_summary(self.failed)}."
        )


def _failure_summary(failed: Sequence[tuple[str, str]]) -> str:
    kinds = {_kind(why) for _, why in failed}
    if len(failed) == 1:
        return {
            CUT_OFF: "the model's answer was cut off",
            NOT_SCHEMA: "the model's answer did not follow the schema",
            TOO_LARGE: "the file was too large for the model's context",
        }.get(_kind(failed[0][1]), "the model did not review it")
    if kinds == {CUT_OFF}:
        what = "the model's answers were cut off"
    elif kinds == {NOT_SCHEMA}:
        what = "the model's answers did not follow the schema"
    elif kinds == {TOO_LARGE}:
        what = "the files were too large for the model's context"
    else:
        what = "the model's answers were cut off, invalid or the files too large"
    return f"{len(failed)} not reviewed, {what}"


def _kind(why: str) -> str:
    for kind in (CUT_OFF, NOT_SCHEMA, TOO_LARGE):
        if why.startswith(kind):
            return kind
    return why


def review_allowances(answer_tokens: int) -> tuple[Allowance, ...]:
    """The first try's allowance and the smaller one asked for when an answer is cut."""
    first = Allowance(
        answer_tokens,
        {"findings": max(1, min(MAX_FINDINGS, answer_tokens // TOKENS_PER_FINDING))},
    )
    smaller = first.smaller()
    return (first,) if smaller is None else (first, smaller)


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
    # category -> the second-pass confidence this repository's history asks for (feedback)
    thresholds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Answered:
    """One review request's answer: the hunks the model saw and the exact prompt it got."""

    part: FileDiff
    findings: tuple[Finding, ...]
    prompt: tuple[Message, ...]


async def _review_file(
    llm: LLM,
    request: ReviewInput,
    file: FileDiff,
    tries: Sequence[_Try],
    *,
    nonce: str,
    context_tokens: int,
    cache: ParseCache,
) -> tuple[list[_Answered], str | None]:
    """The file's answers, and why (part of) it was not reviewed. A file whose diff does not
    fit one prompt is reviewed hunk group by hunk group (:mod:`bot.review.hunks`), each group
    with the code around its own hunks."""
    parts = await _parts(request, file, tries[0], nonce=nonce, context_tokens=context_tokens)
    if parts is None:
        return [], TOO_LARGE
    answered: list[_Answered] = []
    failures: list[str] = []
    for part in parts:
        answer = await _review_part(
            llm, request, part, tries, nonce=nonce, context_tokens=context_tokens, cache=cache
        )
        (failures.append(answer) if isinstance(answer, str) else answered.append(answer))
    if not failures:
        return answered, None
    if len(parts) == 1:
        return answered, failures[0]
    return answered, (
        f"{failures[0]} in {len(failures)} of its {len(parts)} hunk groups"
        + (" (the others were reviewed)" if answered else "")
    )


async def _parts(
    request: ReviewInput, file: FileDiff, first: _Try, *, nonce: str, context_tokens: int
) -> list[FileDiff] | None:
    """The file whole when its diff fits the prompt with the answer's room, else its hunk
    groups; None when not even one diff line fits."""
    empty = review_layout(
        title=request.title,
        body=request.body,
        file=with_hunks(file, ()),
        instructions=request.config.review.instructions,
        nonce=nonce,
    )
    messages = structured.with_schema(empty.messages(), FindingsAnswer, first.schema)
    fixed = await first.tokenizer.count_chat(messages)
    headers = len(await first.tokenizer.encode(numbered_diff(with_hunks(file, ()))))
    # Tokens merge differently at the joins: keep a little slack.
    room = (context_tokens - first.allowance.answer_tokens - fixed) * 95 // 100

    async def measure(part: FileDiff) -> int:
        return len(await first.tokenizer.encode(numbered_diff(part))) - headers

    if room <= 0:
        return None
    if await measure(file) <= room:
        return [file]
    return await hunk_groups(file, room, measure)


async def _review_part(
    llm: LLM,
    request: ReviewInput,
    file: FileDiff,
    tries: Sequence[_Try],
    *,
    nonce: str,
    context_tokens: int,
    cache: ParseCache,
) -> _Answered | str:
    """One request's findings, or why it failed. An answer cut at ``max_tokens`` is asked for
    again with the next, smaller allowance; any other invalid answer is not."""
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
    cuts: list[AnswerCutOffError] = []
    for attempt in tries:
        try:
            fitted = await fit(
                layout,
                attempt.tokenizer,
                context_tokens=context_tokens,
                reserve_tokens=attempt.allowance.answer_tokens,
                answer=FindingsAnswer,
                schema=attempt.schema,
            )
            messages = fitted.messages()
            answer = await llm.complete_json(
                messages,
                FindingsAnswer,
                max_tokens=attempt.allowance.answer_tokens,
                schema=attempt.schema,
            )
        except PromptTooLongError:
            return TOO_LARGE
        except AnswerCutOffError as error:
            cuts.append(error)
            continue
        except ModelOutputError:
            return NOT_SCHEMA
        sent = structured.with_schema(messages, FindingsAnswer, attempt.schema)
        return _Answered(file, tuple(answer.value.findings), tuple(sent))
    return _cut_note(cuts)


def _cut_note(cuts: Sequence[AnswerCutOffError]) -> str:
    first, *rest = cuts
    note = f"{CUT_OFF} at {first.tokens} tokens"
    for cut in rest:
        note += f", then at {cut.tokens} tokens with a smaller allowance"
    return note


@dataclass(frozen=True, slots=True)
class _Try:
    allowance: Allowance
    schema: dict[str, object]
    tokenizer: Tokenizer


async def _tries(tokenizer: Tokenizer, answer_tokens: int) -> list[_Try]:
    sizer = sizer_for(tokenizer)
    tries = []
    for allowance in review_allowances(answer_tokens):
        try:
            schema = await sizer.size(FindingsAnswer, allowance)
        except BudgetError:
            continue
        tries.append(_Try(allowance, schema, tokenizer))
    return tries


async def review_diff(
    request: ReviewInput,
    llm: LLM,
    tokenizer: Tokenizer,
    *,
    nonce: str,
    context_tokens: int,
    answer_tokens: int = DEFAULT_ANSWER_TOKENS,
    already_posted: frozenset[str] = frozenset(),
    progress: Callable[[str], None] | None = None,
) -> ReviewResult:
    """Review every reviewable file of ``request.diff``; the LLM client bounds concurrency.
    Each answer's schema is sized so that its longest valid answer fits ``answer_tokens``
    (``review_allowances``); a cut answer is asked for again with half the allowance.
    ``progress`` hears of each file when its answer is in."""
    config = request.config
    files = parse_diff(request.diff)
    skipped: list[tuple[str, str]] = []
    todo: list[FileDiff] = []
    for file in files:
        reason = request.skip.get(file.path) or skip_reason(file, config)
        if reason is None and config.review.languages and not _language_ok(file, config):
            reason = "language not enabled in .assist.toml"
        (skipped.append((file.path, reason)) if reason else todo.append(file))
    tries = await _tries(tokenizer, answer_tokens) if todo else []
    cache = ParseCache(request.sources)  # each source parsed once for the whole review

    async def one(file: FileDiff) -> tuple[list[_Answered], str | None]:
        answer = await _review_file(
            llm, request, file, tries, nonce=nonce, context_tokens=context_tokens, cache=cache
        )
        if progress is not None:
            progress(f"{file.path} reviewed")
        return answer

    if todo and not tries:
        answers: list[tuple[list[_Answered], str | None]] = [
            ([], f"the answer budget of {answer_tokens} tokens is too small for one finding")
        ] * len(todo)
    else:
        answers = await asyncio.gather(*(one(file) for file in todo))
    minimum = config.min_severity
    placed: dict[str, PlacedFinding] = {}
    unplaced: list[UnplacedFinding] = []
    seen_before = 0
    failed: list[tuple[str, str]] = []
    partly: list[str] = []
    for file, (answered, failure) in zip(todo, answers, strict=True):
        if failure is not None:
            failed.append((file.path, failure))
            if answered:
                partly.append(file.path)
        for part, finding, prompt in ((a.part, f, a.prompt) for a in answered for f in a.findings):
            if finding.severity.rank < minimum.rank:
                continue
            result = place(part, finding.quoted_code, finding.line)
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
                prompt=prompt,
            )
    kept, dropped, note, learned = await _second_pass(
        list(placed.values()),
        {f.path: f for f in todo},
        llm,
        tokenizer,
        threshold=config.review.min_confidence,
        learned=request.thresholds,
        nonce=nonce,
        context_tokens=context_tokens,
    )
    ranked = sorted(
        kept,
        key=lambda p: (-p.finding.severity.rank, p.anchor.path, p.anchor.start_line),
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
        files_reviewed=len(todo) - len(failed),
        usage=llm.usage,
        dropped_low_confidence=dropped,
        already_posted=seen_before,
        scoring_note=note,
        learned_drops=tuple(learned),
        failed=tuple(failed),
        partly_reviewed=tuple(partly),
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
    learned: Mapping[str, float] | None = None,
) -> tuple[list[PlacedFinding], int, str, list[tuple[str, str, float, float]]]:
    """Score the placed findings and keep those at or above ``threshold`` (0 turns it off),
    or at or above the repository's learned threshold for their category when higher."""
    learned = learned or {}
    if (threshold <= 0 and not learned) or not placed:
        return placed, 0, "", []
    candidates = [
        Candidate(p.finding, p.anchor.path, _snippet(files[p.anchor.path], p.anchor))
        for p in placed
    ]
    scored = await score(llm, tokenizer, candidates, nonce=nonce, context_tokens=context_tokens)
    kept: list[PlacedFinding] = []
    drops: list[tuple[str, str, float, float]] = []
    for p, confidence in zip(placed, scored.confidences, strict=True):
        if confidence is not None and confidence < threshold:
            continue
        needed = learned.get(p.finding.category.value, 0.0)
        if confidence is not None and confidence < needed:
            drops.append((p.finding.category.value, p.finding.title, confidence, needed))
            continue
        kept.append(replace(p, confidence=confidence))
    return kept, len(placed) - len(kept), scored.failure, drops


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
