"""The fix pipeline over small protocols: localise, edit, check, choose. No forge I/O here:
the job pushes and posts what this returns, the CLI writes it as a patch.

1. Localise: candidate files from the issue's paths and symbols, the index's hybrid search
   and the repo map (:mod:`bot.fix.localise`); the model picks files and functions from their
   outlines.
2. Edit: the model answers SEARCH/REPLACE blocks in a JSON schema; they are applied by text
   (:mod:`bot.fix.edits`); the blocks that fail go back once with the nearest real text.
3. Check: every edit applied, no new syntax errors, no new undefined names (Python), and the
   repository's tests when it enables them (in a sandbox, :mod:`bot.fix.sandbox`).
4. Choose: up to ``candidates`` answers are generated (the first at temperature 0), stopping
   at the first that passes every check; otherwise the one that passes most checks wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.fix import paths as path_policy
from bot.fix.answers import (
    EditAnswer,
    FilePick,
    LocateAnswer,
    edit_allowance,
    locate_allowance,
)
from bot.fix.checks import CheckResult, Status, check_names, check_syntax
from bot.fix.edits import Applied, EditOutcome, Rejected, apply_edits
from bot.fix.localise import (
    Candidate,
    SearchHit,
    definitions_of,
    excerpt,
    lexical_ranking,
    outline,
    rank_candidates,
)
from bot.fix.patch import unified_diff
from bot.fix.prompt import IssueText, edit_layout, locate_layout, retry_message
from bot.llm import (
    LLM,
    AnswerCutOffError,
    BudgetError,
    Message,
    ModelOutputError,
    PromptLayout,
    PromptTooLongError,
    Structured,
    Tokenizer,
    Usage,
    fit,
    sized_schema,
)

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


class Source(Protocol):
    """The repository's files at the commit being fixed."""

    def paths(self) -> Sequence[str]:
        """Every tracked file."""
        ...

    def read(self, path: str) -> str | None:
        """A text file's content; None when absent, binary, too large or not a regular file."""
        ...

    def refusal(self, path: str) -> str | None:
        """Why ``path`` may not be written here (a symlink, a submodule...); None if it may."""
        ...


class CodeSearch(Protocol):
    """The repository index: hybrid search and the repo map."""

    def search(self, query: str, *, limit: int) -> Sequence[SearchHit]: ...

    def related(self, paths: Sequence[str], *, limit: int) -> Sequence[str]:
        """Files whose definitions ``paths`` use most (the repo map), best first."""
        ...


class TestRunner(Protocol):
    def run(self, changed: Mapping[str, str]) -> CheckResult:
        """Run the repository's tests on its files with ``changed`` written over them."""
        ...


@dataclass(frozen=True, slots=True)
class NoTests:
    """The test check when the repository enables none (or it cannot be run safely)."""

    reason: str = "no test command enabled in .assist.toml"

    def run(self, changed: Mapping[str, str]) -> CheckResult:  # noqa: ARG002 - protocol
        return CheckResult("tests", Status.SKIPPED, self.reason)


@dataclass(frozen=True, slots=True)
class FixOptions:
    candidates: int = 2
    allow_ci: bool = False
    context_tokens: int = 8192
    answer_tokens: int = 1536
    locate_tokens: int = 512
    max_files: int = 3
    outline_files: int = 8
    file_lines: int = 400
    temperature: float = 0.7  # of the candidates after the first


@dataclass(frozen=True, slots=True)
class CandidateResult:
    index: int
    plan: str
    applied: tuple[Applied, ...]
    rejected: tuple[Rejected, ...]
    retried: bool
    files: Mapping[str, str]
    originals: Mapping[str, str | None]
    checks: tuple[CheckResult, ...]
    error: str = ""

    @property
    def passed(self) -> int:
        return sum(1 for check in self.checks if check.passed)

    @property
    def failed(self) -> int:
        return sum(1 for check in self.checks if check.status is Status.FAILED)

    @property
    def ready(self) -> bool:
        return bool(self.files) and self.failed == 0 and not self.error

    @property
    def diff(self) -> str:
        return unified_diff(self.originals, self.files)


@dataclass(frozen=True, slots=True)
class FixOutcome:
    candidates: tuple[Candidate, ...]  # localisation's ranking
    picks: tuple[FilePick, ...]  # the files the edits were asked for
    results: tuple[CandidateResult, ...]
    chosen: CandidateResult | None
    notes: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)

    @property
    def ready(self) -> bool:
        return self.chosen is not None and self.chosen.ready


@dataclass(frozen=True, slots=True)
class _Context:
    issue: IssueText
    source: Source
    texts: Mapping[str, str]
    llm: LLM
    tokenizer: Tokenizer
    nonce: str
    options: FixOptions
    tests: TestRunner
    progress: Progress
    current_diff: str


def read_texts(source: Source) -> dict[str, str]:
    return {path: text for path in source.paths() if (text := source.read(path)) is not None}


async def fix_issue(
    issue: IssueText,
    *,
    source: Source,
    llm: LLM,
    tokenizer: Tokenizer,
    nonce: str,
    search: CodeSearch | None = None,
    tests: TestRunner | None = None,
    options: FixOptions = FixOptions(),
    progress: Progress = lambda _stage: None,
    current_diff: str = "",
) -> FixOutcome:
    """Localise, edit, check and choose. Model transport errors (timeouts, an unavailable
    server) propagate; a malformed answer or an oversized prompt fails only its candidate."""
    texts = read_texts(source)
    ctx = _Context(
        issue, source, texts, llm, tokenizer, nonce, options, tests or NoTests(), progress,
        current_diff,
    )  # fmt: skip
    progress("localising the issue in the repository")
    candidates, notes = _candidates(ctx, search)
    if not candidates:
        return FixOutcome((), (), (), None, (*notes, "no candidate file was found"), llm.usage)
    picks, note = await _pick(ctx, candidates)
    notes = (*notes, *([note] if note else []))
    results: list[CandidateResult] = []
    for index in range(options.candidates):
        progress(f"writing candidate {index + 1} of {options.candidates}")
        result = await _candidate(ctx, picks, index)
        results.append(result)
        if result.ready:
            break
    chosen = max(results, key=lambda r: (r.passed - r.failed, len(r.files) > 0, -r.index))
    return FixOutcome(tuple(candidates), picks, tuple(results), chosen, notes, llm.usage)


def _candidates(
    ctx: _Context, search: CodeSearch | None
) -> tuple[list[Candidate], tuple[str, ...]]:
    query = ctx.issue.text[:2000]
    notes: list[str] = []
    hits: Sequence[SearchHit] = ()
    if search is not None:
        hits = search.search(query, limit=20)
    lexical = lexical_ranking(query, ctx.texts) if not hits else []
    if search is None:
        notes.append("no repository index: files ranked lexically")
    first = rank_candidates(query, ctx.texts, hits=hits, lexical=lexical, limit=3)
    related: Sequence[str] = ()
    if search is not None and first:
        related = search.related([c.path for c in first], limit=5)
    ranked = rank_candidates(
        query, ctx.texts, hits=hits, lexical=lexical, related=related,
        limit=ctx.options.outline_files,
    )  # fmt: skip
    return ranked, tuple(notes)


async def _pick(ctx: _Context, candidates: list[Candidate]) -> tuple[tuple[FilePick, ...], str]:
    options = ctx.options
    outlines = [(c, outline(c.path, ctx.texts[c.path])) for c in candidates]
    layout = locate_layout(
        ctx.issue, outlines, nonce=ctx.nonce, max_files=options.max_files,
        current_diff=ctx.current_diff,
    )  # fmt: skip
    fallback = tuple(FilePick(path=c.path, reason="; ".join(c.reasons)) for c in candidates[:2])
    try:
        allowance = locate_allowance(options.locate_tokens, options.max_files)
        schema = await sized_schema(LocateAnswer, ctx.tokenizer, allowance)
        fitted = await fit(
            layout, ctx.tokenizer, context_tokens=options.context_tokens,
            reserve_tokens=options.locate_tokens, answer=LocateAnswer, schema=schema,
        )  # fmt: skip
        answer = await ctx.llm.complete_json(
            fitted.messages(), LocateAnswer, max_tokens=options.locate_tokens, schema=schema
        )
    except PromptTooLongError:
        return fallback, "the outlines did not fit the model's context: took the top candidates"
    except BudgetError:
        return fallback, "the answer budget is too small to choose files: took the top ones"
    except AnswerCutOffError as error:
        return (
            fallback,
            f"the model's choice of files was cut at {error.tokens} tokens: took the top ones",
        )
    except ModelOutputError:
        return fallback, "the model's choice of files did not follow the schema: took the top ones"
    known = {c.path for c in candidates} | set(ctx.texts)
    picks: list[FilePick] = []
    for pick in answer.value.files:
        path = pick.path.strip().removeprefix("./")
        if path in known and path not in {p.path for p in picks}:
            picks.append(pick.model_copy(update={"path": path}))
    if not picks:
        return fallback, "the model chose no file of the repository: took the top candidates"
    return tuple(picks[: options.max_files]), ""


def _file_views(ctx: _Context, picks: Sequence[FilePick]) -> list[tuple[str, str]]:
    views = []
    for pick in picks:
        text = ctx.texts.get(pick.path)
        if text is None:
            continue
        definitions = definitions_of(pick.path, text)
        views.append(
            (pick.path, excerpt(text, definitions, pick.symbols, max_lines=ctx.options.file_lines))
        )
    return views


def _notes(picks: Sequence[FilePick]) -> list[str]:
    out = []
    for pick in picks:
        symbols = f" ({', '.join(pick.symbols)})" if pick.symbols else ""
        reason = f": {pick.reason}" if pick.reason else ""
        out.append(f"- {pick.path}{symbols}{reason}")
    return out


def _read(ctx: _Context) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        return ctx.texts[path] if path in ctx.texts else ctx.source.read(path)

    return read


def _refuse(ctx: _Context) -> Callable[[str], str | None]:
    def refuse(path: str) -> str | None:
        reason = path_policy.refusal(path, allow_ci=ctx.options.allow_ci)
        return reason if reason is not None else ctx.source.refusal(path)

    return refuse


def _failed(index: int, error: str) -> CandidateResult:
    check = CheckResult("edits", Status.FAILED, error)
    return CandidateResult(index, "", (), (), False, {}, {}, (check,), error)


async def _candidate(ctx: _Context, picks: Sequence[FilePick], index: int) -> CandidateResult:
    options = ctx.options
    temperature = 0.0 if index == 0 else options.temperature
    layout = edit_layout(
        ctx.issue, _file_views(ctx, picks), nonce=ctx.nonce, notes=_notes(picks),
        current_diff=ctx.current_diff,
    )  # fmt: skip
    edited = await _edit_answer(ctx, layout, temperature)
    if isinstance(edited, str):
        return _failed(index, edited)
    answer, messages, schema = edited
    plan = answer.value.plan.strip()
    outcome = apply_edits(
        [edit.block() for edit in answer.value.edits], _read(ctx), refuse=_refuse(ctx)
    )
    retried = False
    if outcome.rejected:
        retried = True
        outcome = await _retry(ctx, messages, answer.completion.text, outcome, temperature, schema)
    return _checked(ctx, index, plan, outcome, retried)


async def _edit_answer(
    ctx: _Context, layout: PromptLayout, temperature: float
) -> tuple[Structured[EditAnswer], list[Message], Mapping[str, object]] | str:
    """The edits, the messages sent and the schema used; or why there are none. The schema is
    sized to the answer budget; an answer cut at the budget is asked for once more with the
    smaller allowance, then reported with where it was cut."""
    options = ctx.options
    first = edit_allowance(options.answer_tokens)
    smaller = first.smaller()
    cuts: list[int] = []
    for allowance in (first,) if smaller is None else (first, smaller):
        try:
            schema = await sized_schema(EditAnswer, ctx.tokenizer, allowance)
            fitted = await fit(
                layout, ctx.tokenizer, context_tokens=options.context_tokens,
                reserve_tokens=options.answer_tokens, answer=EditAnswer, schema=schema,
            )  # fmt: skip
            messages = fitted.messages()
            answer = await ctx.llm.complete_json(
                messages, EditAnswer, max_tokens=allowance.answer_tokens,
                temperature=temperature, schema=schema,
            )  # fmt: skip
        except PromptTooLongError:
            return "the files to change do not fit the model's context"
        except BudgetError:
            return f"the answer budget of {allowance.answer_tokens} tokens is too small for an edit"
        except AnswerCutOffError as error:
            cuts.append(error.tokens)
            continue
        except ModelOutputError:
            return "the model's edits did not follow the JSON schema"
        return answer, messages, schema
    return "the model's edits were cut at " + ", then at ".join(f"{n} tokens" for n in cuts)


async def _retry(
    ctx: _Context,
    messages: list[Message],
    reply: str,
    first: EditOutcome,
    temperature: float,
    schema: Mapping[str, object],
) -> EditOutcome:
    """Send the failed blocks back once with the nearest real text; apply the answer on top
    of the blocks that did apply. Refused paths are not retried: they stay refused."""
    retryable = [r for r in first.rejected if r.problem.value != "refused-path"]
    if not retryable:
        return first
    ctx.progress("retrying the edits that did not apply")
    conversation = [
        *messages,
        Message("assistant", reply),
        retry_message(retryable, nonce=ctx.nonce),
    ]
    budget = ctx.options.context_tokens - ctx.options.answer_tokens
    if await ctx.tokenizer.count_chat(conversation) > budget:
        return first
    try:
        answer = await ctx.llm.complete_json(
            conversation, EditAnswer, max_tokens=ctx.options.answer_tokens,
            temperature=temperature, schema=schema,
        )  # fmt: skip
    except ModelOutputError:
        return first
    second = apply_edits(
        [edit.block() for edit in answer.value.edits],
        _read(ctx),
        refuse=_refuse(ctx),
        start=first.files,
    )
    refused = tuple(r for r in first.rejected if r.problem.value == "refused-path")
    return EditOutcome(
        second.files,
        first.applied + second.applied,
        refused + second.rejected,
        {**first.originals, **second.originals},
    )


def _edits_check(outcome: EditOutcome) -> CheckResult:
    total = len(outcome.applied) + len(outcome.rejected)
    if outcome.rejected:
        failures = "; ".join(
            f"{r.block.path}: {r.problem.value} ({r.detail})" for r in outcome.rejected
        )
        return CheckResult(
            "edits",
            Status.FAILED,
            f"{len(outcome.rejected)} of {total} edit(s) not applied: {failures}",
        )
    if not outcome.files:
        return CheckResult("edits", Status.FAILED, "the edits change nothing")
    methods = sorted({a.method.value for a in outcome.applied})
    return CheckResult(
        "edits", Status.PASSED, f"{total} edit(s) applied ({', '.join(methods)} match)"
    )


def _checked(
    ctx: _Context, index: int, plan: str, outcome: EditOutcome, retried: bool
) -> CandidateResult:
    checks = [_edits_check(outcome)]
    if outcome.files:
        ctx.progress(f"checking candidate {index + 1}")
        checks.append(check_syntax(outcome.originals, outcome.files))
        checks.append(check_names(outcome.originals, outcome.files))
        if all(c.status is not Status.FAILED for c in checks):
            ctx.progress(f"running the repository's tests on candidate {index + 1}")
            checks.append(ctx.tests.run(outcome.files))
        else:
            checks.append(CheckResult("tests", Status.SKIPPED, "not run: an earlier check failed"))
    return CandidateResult(
        index,
        plan,
        outcome.applied,
        outcome.rejected,
        retried,
        outcome.files,
        {path: outcome.originals.get(path) for path in outcome.files},
        tuple(checks),
    )
