"""Run the fix pipeline on a working copy with the clients built from Settings (the job and
the CLI share this): the model client, the repository index (or the lexical fallback) and the
test sandbox (or the reason there is none)."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from pathlib import Path

from pydantic import SecretStr

from bot.fix.errors import SandboxUnavailable
from bot.fix.pipeline import FixOptions, FixOutcome, NoTests, Progress, TestRunner, fix_issue
from bot.fix.prompt import IssueText
from bot.fix.retrieval import IndexSearch, index_workspace
from bot.fix.sandbox import Limits, QueuedSandbox, SandboxRunner, isolation
from bot.fix.workspace import GitWorkspace
from bot.index.indexing import index_lock
from bot.llm.model import open_model
from bot.repoconfig import FixConfig
from bot.sandbox import bwrap
from bot.settings import Settings
from indexer.errors import IndexerError

log = logging.getLogger(__name__)


def tests_allowed(settings: Settings, repo: str | None) -> str | None:
    """Why the operator does not let ``repo``'s tests run (None: allowed). The operator
    decides: ``ASSIST_FIX_RUN_TESTS`` on, and the repository inside the allow-list (``owner/
    name`` exactly, or ``group/*`` for everything below a namespace). ``repo`` None is the
    CLI on a local repository, where the operator's switch alone decides."""
    if not settings.fix_run_tests:
        return "the operator has not enabled test runs (ASSIST_FIX_RUN_TESTS)"
    if repo is None:
        return None
    lowered = repo.lower()
    for entry in settings.fix_run_tests_repos:
        pattern = entry.strip().lower()
        if pattern.endswith("/*") and lowered.startswith(pattern[:-1]):
            return None
        if pattern == lowered:
            return None
    return f"{repo} is not in the operator's allow-list (ASSIST_FIX_RUN_TESTS_REPOS)"


def toolchain_mounts(settings: Settings, repo: str | None, forge: str | None) -> bwrap.Mounts:
    """The operator-built toolchain for ``repo`` (or the default one), bound read-only."""
    base = settings.sandbox_toolchains_dir
    if base is None:
        return bwrap.Mounts()
    for candidate in ([base / forge / repo] if repo and forge else []) + [base / "default"]:
        if candidate.is_dir():
            return bwrap.Mounts(read_only={str(candidate.resolve()): "/opt/toolchain"})
    return bwrap.Mounts()


def test_runner(
    config: FixConfig,
    root: Path,
    settings: Settings,
    scratch: Path,
    *,
    repo: str | None,
    forge: str | None,
) -> TestRunner:
    """The sandboxed test command when the operator allows it and the repository enables
    one, else why there is none. A repository's ``.assist.toml`` can only opt in inside the
    operator's allow-list."""
    if not config.test_command.strip():
        return NoTests("no test command in .assist.toml")
    refused = tests_allowed(settings, repo)
    if refused is not None:
        return NoTests(f"not run: {refused}")
    if not config.run_tests:
        return NoTests("the test command is not enabled (`[fix] run_tests = false`)")
    limits = Limits(
        timeout_s=config.test_timeout_s,
        memory_mb=settings.fix_sandbox_memory_mb,
        disk_mb=settings.sandbox_disk_mb,
        processes=settings.sandbox_processes,
    )
    if settings.sandbox_queue:
        return QueuedSandbox(
            root, config.test_command, limits, settings.redis_url, settings.queue_prefix
        )
    try:
        iso = isolation()
    except SandboxUnavailable as exc:
        return NoTests(f"not run: {exc}")
    return SandboxRunner(
        root, config.test_command, limits, iso, scratch,
        mounts=toolchain_mounts(settings, repo, forge), secrets=secret_values(settings),
    )  # fmt: skip


def secret_values(settings: Settings) -> tuple[str, ...]:
    """Every secret the settings hold, to be redacted from anything repository code prints."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        values = value if isinstance(value, list) else [value]
        found += [v.get_secret_value() for v in values if isinstance(v, SecretStr)]
    return tuple(v for v in found if v)


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
    repo: str | None = None,
    forge: str | None = None,
) -> FixOutcome:
    context = settings.llm_context_tokens
    options = FixOptions.for_context(
        context,
        answer_cap=settings.fix_answer_tokens,
        candidates=config.candidates,
        allow_ci=config.allow_workflow_edits and settings.fix_allow_build_edits,
    )
    progress("indexing the repository")
    search, note = open_search(settings, workspace, scratch)
    try:
        async with open_model(settings) as model:
            outcome = await fix_issue(
                issue,
                source=workspace,
                llm=model.llm,
                tokenizer=model.tokenizer,
                nonce=model.nonce(*scope),
                search=search,
                tests=test_runner(
                    config, workspace.root, settings, scratch, repo=repo, forge=forge
                ),
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
