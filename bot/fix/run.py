"""Run the fix pipeline on a working copy with the clients built from Settings (the job and
the CLI share this): the model client, the repository index (or the lexical fallback) and the
test sandbox (or the reason there is none)."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from pathlib import Path

from bot.fix.errors import SandboxUnavailable
from bot.fix.pipeline import FixOptions, FixOutcome, NoTests, Progress, TestRunner, fix_issue
from bot.fix.prompt import IssueText
from bot.fix.retrieval import IndexSearch, index_workspace
from bot.fix.sandbox import Limits, SandboxRunner, limit_prefix, network_isolation
from bot.fix.workspace import GitWorkspace
from bot.jobs.indexing import index_lock
from bot.llm import LLMConfig, OpenAIClient, derive_nonce, new_nonce, tokenizer_for
from bot.repoconfig import FixConfig
from bot.settings import Settings
from indexer.errors import IndexerError

log = logging.getLogger(__name__)


def test_runner(config: FixConfig, root: Path, settings: Settings, scratch: Path) -> TestRunner:
    """The sandboxed test command when the repository enables one, else why there is none."""
    if not config.test_command.strip():
        return NoTests("no test command in .assist.toml")
    if not config.run_tests:
        return NoTests("the test command is not enabled (`[fix] run_tests = false`)")
    limits = Limits(timeout_s=config.test_timeout_s, memory_mb=settings.fix_sandbox_memory_mb)
    try:
        limit_prefix(limits)
        isolation = network_isolation()
    except SandboxUnavailable as exc:
        return NoTests(f"not run: {exc}")
    return SandboxRunner(root, config.test_command, limits, isolation, scratch)


def open_search(
    settings: Settings, workspace: GitWorkspace, scratch: Path
) -> tuple[IndexSearch | None, str]:
    if not settings.fix_use_index:
        return None, "the index is turned off (ASSIST_FIX_USE_INDEX=false)"
    try:
        with index_lock(settings):  # the embeddings cache is shared with the index jobs
            return index_workspace(
                workspace.root,
                scratch=scratch / "index",
                embeddings_cache=settings.cache_dir / "index" / "embeddings.sqlite",
            ), ""
    except (IndexerError, OSError, ImportError, sqlite3.Error) as exc:
        log.warning("fix: indexing failed, ranking lexically: %s", exc)
        return None, f"indexing failed ({type(exc).__name__})"


async def run_fix(
    settings: Settings,
    issue: IssueText,
    workspace: GitWorkspace,
    config: FixConfig,
    *,
    scope: tuple[str, ...],
    scratch: Path,
    progress: Progress = lambda _stage: None,
    current_diff: str = "",
) -> FixOutcome:
    llm_config = LLMConfig.from_settings(settings)
    key = settings.llm_fence_key
    nonce = derive_nonce(key.get_secret_value().encode(), *scope) if key else new_nonce()
    context = settings.llm_context_tokens
    options = FixOptions.for_context(
        context,
        answer_cap=settings.fix_answer_tokens,
        candidates=config.candidates,
        allow_ci=config.allow_workflow_edits,
    )
    progress("indexing the repository")
    search, note = open_search(settings, workspace, scratch)
    try:
        async with OpenAIClient(llm_config) as client:
            outcome = await fix_issue(
                issue,
                source=workspace,
                llm=client,
                tokenizer=tokenizer_for(llm_config, client),
                nonce=nonce,
                search=search,
                tests=test_runner(config, workspace.root, settings, scratch),
                options=options,
                progress=progress,
                current_diff=current_diff,
            )
    finally:
        if search is not None:
            search.close()
    if note:
        outcome = dataclasses.replace(outcome, notes=(note, *outcome.notes))
    return outcome
