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
from typing import Any, Protocol

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
    lexical_ranking,
    outline,
    rank_candidates,
)
from bot.fix.patch import unified_diff
from bot.fix.prompt import IssueText, locate_layout, retry_message, window_layout
from bot.fix.windows import (
    Fitted,
    Scope,
    Window,
    WindowGuard,
    fit_windows,
    rank_scopes,
    render,
    whole_file,
)
from bot.llm import (
    LLM,
    AnswerCutOffError,
    BudgetError,
    Message,
    ModelOutputError,
    PromptTooLongError,
    Structured,
    Tokenizer,
    Usage,
    fit,
    sized_schema,
)
from bot.llm.structured import with_schema

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
    file_lines: int = 400  # files up to this long are shown whole when they fit
    scopes: int = 12  # ranked scopes considered for the edit windows
    max_windows: int = 6

    @classmethod
    def for_context(cls, context_tokens: int, *, answer_cap: int = 1536, **kw: Any) -> FixOptions:
        """Options for a model of ``context_tokens``: the edit answer gets 3/8 of a small
        context (a 2k model keeps 768 tokens for its edits and ~1.3k for the prompt, so a
        function of a few dozen lines still fits beside the instructions), at most
        ``answer_cap``; the file choice a quarter, at most 512."""
        return cls(
            context_tokens=context_tokens,
            answer_tokens=min(answer_cap, context_tokens * 3 // 8),
            locate_tokens=min(512, context_tokens // 4),
            **kw,
        )

    @property
    def window_budget(self) -> int:
        """Prompt tokens for the edit prompt: the context less the answer and, from 4k tokens
        on, a reserve for the one retry (its follow-up goes after the same prompt). In a
        smaller context the code shown comes first: a retry is sent only if it fits."""
        reserve = min(256, self.context_tokens // 16) if self.context_tokens >= 4096 else 0
        return self.context_tokens - self.answer_tokens - reserve

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
    scopes: tuple[Scope, ...] = ()  # localisation's second step: scopes in the picked files
    windows: tuple[Window, ...] = ()  # what the edit prompt showed

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
    candidates, hits, notes = _candidates(ctx, search)
    if not candidates:
        return FixOutcome((), (), (), None, (*notes, "no candidate file was found"), llm.usage)
    picks, note = await _pick(ctx, candidates)
    notes = (*notes, *([note] if note else []))
    scopes = scopes_to_show(issue, picks, ctx.texts, hits=hits, options=options)
    progress("fitting the code to change into the model's context")
    try:
        schema = await sized_schema(EditAnswer, tokenizer, edit_allowance(options.answer_tokens))
    except BudgetError as error:
        failed = _failed(0, f"the answer budget is too small for an edit: {error}")
        return FixOutcome(
            tuple(candidates), picks, (failed,), failed, notes, llm.usage, tuple(scopes)
        )
    shown = await windows_to_show(
        issue, picks, ctx.texts, scopes, tokenizer=tokenizer, schema=schema, nonce=nonce,
        options=options, current_diff=current_diff,
    )  # fmt: skip
    notes = (*notes, *shown.notes)
    results: list[CandidateResult] = []
    for index in range(options.candidates):
        if shown.too_large is not None:
            results.append(_failed(index, shown.too_large.message()))
            break
        progress(f"writing candidate {index + 1} of {options.candidates}")
        result = await _candidate(ctx, picks, shown, schema, index)
        results.append(result)
        if result.ready:
            break
    chosen = max(results, key=lambda r: (r.passed - r.failed, len(r.files) > 0, -r.index))
    return FixOutcome(
        tuple(candidates), picks, tuple(results), chosen, notes, llm.usage, tuple(scopes),
        shown.windows,
    )  # fmt: skip


def _candidates(
    ctx: _Context, search: CodeSearch | None
) -> tuple[list[Candidate], Sequence[SearchHit], tuple[str, ...]]:
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
    return ranked, hits, tuple(notes)


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


def scopes_to_show(
    issue: IssueText,
    picks: Sequence[FilePick],
    texts: Mapping[str, str],
    *,
    hits: Sequence[SearchHit] = (),
    options: FixOptions = FixOptions(),
) -> list[Scope]:
    """Localisation's second step: the scopes of the picked files, ranked. Files short
    enough come first as a whole (their imports and module code included)."""
    files = [(p.path, texts[p.path]) for p in picks if p.path in texts]
    ranked = rank_scopes(
        issue.text, files, picked={p.path: p.symbols for p in picks}, hits=hits,
        limit=options.scopes,
    )  # fmt: skip
    small = [
        whole_file(path, text) for path, text in files if text.count("\n") + 1 <= options.file_lines
    ]
    return [*small, *ranked]


def edit_messages(
    issue: IssueText,
    picks: Sequence[FilePick],
    texts: Mapping[str, str],
    windows: Sequence[Window],
    signatures: str,
    *,
    nonce: str,
    current_diff: str = "",
) -> list[Message]:
    """The edit prompt over ``windows`` (the answer schema is added when it is sent)."""
    views = [(w, render(w, texts[w.path])) for w in windows]
    layout = window_layout(
        issue, views, nonce=nonce, signatures=signatures, notes=_notes(picks),
        current_diff=current_diff,
    )  # fmt: skip
    return layout.messages()


async def windows_to_show(
    issue: IssueText,
    picks: Sequence[FilePick],
    texts: Mapping[str, str],
    scopes: Sequence[Scope],
    *,
    tokenizer: Tokenizer,
    schema: Mapping[str, object],
    nonce: str,
    options: FixOptions = FixOptions(),
    current_diff: str = "",
) -> Fitted:
    """The windows of ``scopes`` that fit the edit prompt, measured with the model's tokenizer
    on the exact messages sent (the sized answer ``schema`` included)."""

    async def measure(windows: Sequence[Window], signatures: str) -> int:
        messages = edit_messages(
            issue, picks, texts, windows, signatures, nonce=nonce, current_diff=current_diff
        )
        return await tokenizer.count_chat(with_schema(messages, EditAnswer, schema))

    return await fit_windows(
        scopes, texts, measure=measure, budget=options.window_budget,
        tokenizer=tokenizer, max_windows=options.max_windows, query=issue.text,
    )  # fmt: skip


def _notes(picks: Sequence[FilePick]) -> list[str]:
    """The files chosen, for the trusted part of the edit prompt: paths of the repository
    only (the model's reasons and symbol names are its own text, not instructions)."""
    return ["Files chosen: " + ", ".join(pick.path for pick in picks)]


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


async def _candidate(
    ctx: _Context,
    picks: Sequence[FilePick],
    shown: Fitted,
    schema: Mapping[str, object],
    index: int,
) -> CandidateResult:
    options = ctx.options
    temperature = 0.0 if index == 0 else options.temperature
    messages = edit_messages(
        ctx.issue, picks, ctx.texts, shown.windows, shown.signatures, nonce=ctx.nonce,
        current_diff=ctx.current_diff,
    )  # fmt: skip
    edited = await _edit_answer(ctx, messages, temperature, schema)
    if isinstance(edited, str):
        return _failed(index, edited)
    answer, schema = edited
    plan = answer.value.plan.strip()
    guard = WindowGuard(shown.windows)
    outcome = apply_edits(
        [edit.block() for edit in answer.value.edits], _read(ctx), refuse=_refuse(ctx),
        within=guard,
    )  # fmt: skip
    retried = False
    if outcome.rejected:
        retried = True
        outcome = await _retry(
            ctx, messages, answer.completion.text, outcome, temperature, guard, schema
        )
    return _checked(ctx, index, plan, outcome, retried)


async def _edit_answer(
    ctx: _Context, messages: list[Message], temperature: float, schema: Mapping[str, object]
) -> tuple[Structured[EditAnswer], Mapping[str, object]] | str:
    """The edits and the schema used; or why there are none. ``schema`` is sized to the answer
    budget (the windows were fitted with it); an answer cut at the budget is asked for once
    more with the smaller allowance, then reported with where it was cut."""
    first = edit_allowance(ctx.options.answer_tokens)
    smaller = first.smaller()
    cuts: list[int] = []
    for allowance in (first,) if smaller is None else (first, smaller):
        try:
            if allowance is not first:
                schema = await sized_schema(EditAnswer, ctx.tokenizer, allowance)
            answer = await ctx.llm.complete_json(
                messages, EditAnswer, max_tokens=allowance.answer_tokens,
                temperature=temperature, schema=schema,
            )  # fmt: skip
        except BudgetError:
            return f"the answer budget of {allowance.answer_tokens} tokens is too small for an edit"
        except AnswerCutOffError as error:
            cuts.append(error.tokens)
            continue
        except ModelOutputError:
            return "the model's edits did not follow the JSON schema"
        return answer, schema
    return "the model's edits were cut at " + ", then at ".join(f"{n} tokens" for n in cuts)


async def _retry(
    ctx: _Context,
    messages: list[Message],
    reply: str,
    first: EditOutcome,
    temperature: float,
    guard: WindowGuard,
    schema: Mapping[str, object],
) -> EditOutcome:
    """Send the failed blocks back once with the nearest real text; apply the answer on top
    of the blocks that did apply. Refused paths are not retried: they stay refused."""
    retryable = [r for r in first.rejected if r.problem.value != "refused-path"]
    if not retryable:
        return first
    ctx.progress("retrying the edits that did not apply")
    follow_up = retry_message(retryable, nonce=ctx.nonce)
    budget = ctx.options.context_tokens - ctx.options.answer_tokens
    conversation = [*messages, Message("assistant", reply), follow_up]
    if await ctx.tokenizer.count_chat(conversation) > budget:
        # A small context: the windows filled it. The follow-up quotes each failed SEARCH
        # and says the other edits are kept, so the model's first answer can be left out.
        conversation = [*messages, follow_up]
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
        within=guard,
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
