"""`assist fix --repo PATH --issue-text FILE`: the fix pipeline on a local repository.

The repository is only read (its tracked files as they are in the working tree); the config
comes from HEAD's `.assist.toml`; the result is a patch for ``git apply``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.fix import render
from bot.fix.pipeline import FixOutcome, Progress
from bot.fix.prompt import IssueText
from bot.fix.run import run_fix
from bot.fix.workspace import GitWorkspace
from bot.repoconfig import CONFIG_PATH, parse_repo_config
from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class LocalFix:
    outcome: FixOutcome
    patch: str  # the chosen candidate's diff ("" when nothing changed)
    report: str  # Markdown: the checks and what was tried


def issue_from_text(text: str, *, number: int | None = None) -> IssueText:
    """The first non-empty line is the title, the rest the body."""
    lines = text.strip().splitlines()
    title = lines[0].lstrip("# ").strip() if lines else ""
    return IssueText(number, title, "\n".join(lines[1:]).strip())


async def fix_local(
    settings: Settings,
    repo: Path,
    issue: IssueText,
    *,
    progress: Progress = lambda _stage: None,
) -> LocalFix:
    workspace = GitWorkspace.open(repo)
    config = parse_repo_config(workspace.show("HEAD", CONFIG_PATH))
    scratch_root = settings.cache_dir / "fix"
    scratch_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="local-", dir=scratch_root) as tmp:
        outcome = await run_fix(
            settings,
            issue,
            workspace,
            config.fix,
            scope=("local", str(repo.resolve()), workspace.head()),
            scratch=Path(tmp),
            progress=progress,
        )
    result = outcome.chosen
    if outcome.ready and result is not None:
        report = render.pr_body(issue, outcome, result)
    else:
        report = render.failure_comment("you", reason=_why(outcome), outcome=outcome)
    return LocalFix(outcome, result.diff if result is not None else "", report)


def _why(outcome: FixOutcome) -> str:
    result = outcome.chosen
    if result is None:
        return "no candidate file was found."
    if result.error:
        return result.error + "."
    failed = [c.name for c in result.checks if c.status.value == "failed"]
    return f"the best candidate failed its checks ({', '.join(failed)})."
