"""Replay the real review on each case: :func:`bot.review.run.run_review`, the entry point the
CLI and the jobs use, with the case's diff and files, then score what it placed.

Context modes: ``diff`` sends the hunks alone; ``scope`` adds the enclosing functions and used
signatures (what a review without an index sends); ``index`` adds, for cases whose source is a
git repository, related code found by indexing the base and the head as an overlay (what a
review of an indexed repository sends).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from bot.eval.cases import Case, CaseError, GitSource, diff_files, read_side
from bot.eval.score import CaseRun, EvalFinding
from bot.llm import LLMError
from bot.repoconfig import RepoConfig
from bot.review.diff import FileDiff, FileStatus
from bot.review.filters import skip_reason
from bot.review.pipeline import ReviewInput, ReviewResult
from bot.review.run import run_review
from bot.review.service import MAX_SOURCES, related_query
from bot.settings import Settings

log = logging.getLogger(__name__)

ContextMode = Literal["diff", "scope", "index"]
CONTEXT_MODES: tuple[ContextMode, ...] = ("diff", "scope", "index")


def review_input(
    case: Case,
    files: tuple[FileDiff, ...],
    *,
    root: Path,
    config: RepoConfig,
    mode: ContextMode,
    max_files: int | None = None,
    related: Mapping[str, str] | None = None,
) -> ReviewInput:
    """The pipeline's input for one case, as the review job would build it."""
    present = [f.path for f in files if f.status is not FileStatus.DELETED]
    sources = read_side(case, "right", present, root=root)
    skip: dict[str, str] = {}
    if max_files is not None:
        reviewable = [f.path for f in files if skip_reason(f, config) is None]
        skip = dict.fromkeys(reviewable[max_files:], "left out by --max-files")
    context = {f.path: "" for f in files} if mode == "diff" else {}
    return ReviewInput(
        case.title,
        case.body,
        case.diff,
        config,
        context=context,
        sources=sources,
        skip=skip,
        related=dict(related or {}),
    )


def related_from_index(
    settings: Settings, case: Case, files: tuple[FileDiff, ...], *, root: Path, limit: int = 4
) -> dict[str, str]:
    """Index the case's repository at base, its head as an overlay, and search per file."""
    from bot.index.indexing import build_indexer
    from indexer import index_repository, search

    source = case.source
    if not isinstance(source, GitSource):
        raise CaseError(f"case {case.id}: --context index needs a git source")
    path = str((root / source.path).resolve())
    indexer = build_indexer(settings)
    cache = settings.cache_dir / "index"
    index_repository(path, indexer=indexer, cache_dir=cache, ref=source.base)
    index_repository(path, indexer=indexer, cache_dir=cache, ref=source.head, overlay=True)
    out: dict[str, str] = {}
    for file in files[:MAX_SOURCES]:
        found = search(
            related_query(file), source=path, indexer=indexer, head=source.head, limit=2 * limit
        )
        hits = [h for h in found if h.path != file.path][:limit]
        if hits:
            out[file.path] = "\n\n".join(
                f"# {h.path}:{h.start_line}-{h.end_line} {h.symbol}\n{h.code}" for h in hits
            )
    return out


def findings_of(result: ReviewResult) -> tuple[EvalFinding, ...]:
    return tuple(
        EvalFinding(
            p.anchor.path,
            p.anchor.start_line,
            p.anchor.end_line,
            p.finding.category.value,
            p.finding.severity.value,
            p.finding.title,
            p.confidence,
        )
        for p in result.placed
    )


async def run_case(
    settings: Settings,
    case: Case,
    *,
    root: Path,
    config: RepoConfig,
    mode: ContextMode,
    max_files: int | None = None,
) -> CaseRun:
    """Review one case with the real pipeline; a failure is recorded in the run, not raised."""
    refs = tuple(case.references)
    try:
        files = diff_files(case)
        related = related_from_index(settings, case, files, root=root) if mode == "index" else {}
        request = review_input(
            case, files, root=root, config=config, mode=mode, max_files=max_files, related=related
        )
        result = await run_review(settings, request, scope=("eval", case.id))
    except (CaseError, LLMError, OSError) as exc:
        log.warning("eval case %s failed: %s", case.id, exc)
        return CaseRun(
            case.id, refs, (), language=case.language, error=f"{type(exc).__name__}: {exc}"
        )
    usage = result.usage
    return CaseRun(
        case.id,
        refs,
        findings_of(result),
        language=case.language,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        model_seconds=usage.latency_s,
        requests=usage.requests,
        unplaced=len(result.unplaced),
        skipped=result.skipped,
    )


async def run_all(
    settings: Settings,
    cases: list[Case],
    *,
    root: Path,
    config: RepoConfig,
    mode: ContextMode,
    max_files: int | None = None,
    progress: Callable[[CaseRun], None] = lambda _: None,
) -> list[CaseRun]:
    """The cases one after another (each case's files in parallel, as the job does)."""
    runs: list[CaseRun] = []
    for case in cases:
        run = await run_case(
            settings, case, root=root, config=config, mode=mode, max_files=max_files
        )
        progress(run)
        runs.append(run)
    return runs


def read_runs(path: Path) -> list[CaseRun]:
    """The runs of a runs.jsonl (to score again, e.g. with another tolerance)."""
    from bot.eval.cases import Reference, iter_jsonl

    out: list[CaseRun] = []
    for number, value in iter_jsonl(path):
        try:
            data = dict(value)  # type: ignore[call-overload]
            out.append(
                CaseRun(
                    case_id=str(data["case_id"]),
                    references=tuple(Reference.model_validate(r) for r in data["references"]),
                    findings=tuple(EvalFinding(**f) for f in data["findings"]),
                    language=str(data.get("language", "")),
                    prompt_tokens=int(data.get("prompt_tokens", 0)),
                    completion_tokens=int(data.get("completion_tokens", 0)),
                    model_seconds=float(data.get("model_seconds", 0.0)),
                    requests=int(data.get("requests", 0)),
                    unplaced=int(data.get("unplaced", 0)),
                    skipped=tuple((str(p), str(w)) for p, w in data.get("skipped", [])),
                    error=data.get("error"),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CaseError(f"{path}:{number}: not a run: {exc}") from exc
    return out


def run_json(run: CaseRun) -> str:
    """One line of runs.jsonl: everything the scores were computed from."""
    data = asdict(run)
    data["references"] = [r.model_dump() for r in run.references]
    return json.dumps(data)
