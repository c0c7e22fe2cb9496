"""`/assist fix` on a forge: authorise, acknowledge, fix, push, propose, or say why not.

Every message goes into one status comment per command (a hidden marker, edited in place), so
a retried job never posts twice. Nothing is pushed unless the chosen candidate passed its
checks, except a partial branch when ``.assist.toml`` asks for one; a branch pushed for a
change that then cannot be opened is deleted again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.access.commands import command_comment, may_command, over_quota, verified_comment
from bot.access.quota import CommandQuotas
from bot.domain import RepoRef
from bot.fix import render
from bot.fix.errors import FixError
from bot.fix.pipeline import FixOutcome
from bot.fix.prompt import IssueText
from bot.fix.remote import head_repo, push_repo
from bot.fix.run import run_fix
from bot.fix.workspace import GitWorkspace
from bot.forge.errors import ForgeError, NotFound
from bot.forge.protocol import Forge
from bot.forge.types import ChangeProposal, ChangeRequest, Comment, Noteable, Reaction
from bot.llm import LLMError
from bot.repoconfig import CONFIG_PATH, RepoConfig, RepoConfigError, parse_repo_config
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FixCommand:
    """The plain values of one `/assist fix` command (the job's kwargs)."""

    repo: RepoRef
    number: int
    target: Noteable
    comment: Comment  # the comment that carried the command (to react to)
    author: str
    guidance: str = ""

    @classmethod
    def from_kwargs(cls, repo: RepoRef, kwargs: Mapping[str, Any]) -> FixCommand:
        return cls(
            repo=repo,
            number=int(kwargs["number"]),
            target="issue" if kwargs.get("target") == "issue" else "change",
            comment=command_comment(kwargs),
            author=str(kwargs.get("author") or ""),
            guidance=str(kwargs.get("argument") or ""),
        )


@dataclass(frozen=True, slots=True)
class _Target:
    issue: IssueText
    branch: str | None  # the branch to iterate on (our own change), None for a new one
    change: ChangeRequest | None
    current_diff: str


class _Stop(Exception):
    """The command ends here with ``message`` posted and ``detail`` recorded."""

    def __init__(self, message: str, detail: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class FixJob:
    def __init__(
        self,
        forge: Forge,
        settings: Settings,
        command: FixCommand,
        *,
        git_env: Mapping[str, str],
        quotas: CommandQuotas | None = None,
    ) -> None:
        self.forge = forge
        self.quotas = quotas
        self.settings = settings
        self.command = command
        self.git_env = git_env
        self.marker = render.status_marker(command.comment.id)

    def say(self, body: str) -> None:
        c = self.command
        self.forge.upsert_comment(c.repo, c.number, marker=self.marker, body=body, on=c.target)

    def progress(self, stage: str) -> None:
        self.say(render.progress_comment(self.command.author, stage))

    def run(self) -> dict[str, Any]:
        verified = verified_comment(
            self.forge, self.command.repo, self.command.comment,
            prefix=self.settings.command_prefix,
        )  # fmt: skip
        if verified is None:  # a forged or deleted note: nothing runs, nothing is said
            return {"status": "refused", "reason": "unverified comment"}
        self.command = dataclasses.replace(self.command, author=verified.author, comment=verified)
        c = self.command
        refused = over_quota(self.quotas, self.forge, c.repo, c.comment)
        if refused is not None:  # the window's first refusal replied; nothing else is said
            return refused
        if not may_command(self.forge, c.repo, c.author, change_author=None):
            self.say(render.refusal_permission(c.author))
            return {"status": "refused", "reason": "permission"}
        self.forge.respond(c.repo, c.comment, reaction=Reaction.EYES)
        self.progress("reading the issue")
        try:
            return self._run()
        except _Stop as stop:
            self.say(stop.message)
            return stop.detail
        except LLMError as exc:
            log.warning("fix %s#%s: the model failed: %s", c.repo, c.number, exc)
            reason = f"the model did not answer ({type(exc).__name__}: {exc})."
            self.say(render.failure_comment(c.author, reason=reason))
            return {"status": "failed", "reason": "model", "error": str(exc)[:500]}
        except FixError as exc:
            log.warning("fix %s#%s: %s", c.repo, c.number, exc)
            self.say(render.failure_comment(c.author, reason=f"{exc}"))
            return {"status": "failed", "reason": "workspace", "error": str(exc)[:500]}
        except ForgeError:
            raise  # the forge may be back on the retry; the status comment is edited then
        except Exception:
            reason = "an internal error stopped the fix (the job log has the details)."
            self.say(render.failure_comment(c.author, reason=reason))
            raise

    def _target(self) -> _Target:
        c = self.command
        if c.target == "issue":
            issue = self.forge.get_issue(c.repo, c.number)
            if issue.state != "open":
                raise _Stop(render.REFUSAL_CLOSED, {"status": "refused", "reason": "closed"})
            if issue.locked:
                raise _Stop(render.REFUSAL_LOCKED, {"status": "refused", "reason": "locked"})
            text = IssueText(c.number, issue.title, issue.body, c.guidance)
            return _Target(text, None, None, "")
        change = self.forge.get_change(c.repo, c.number)
        number = render.issue_of_branch(change.head_ref)
        if number is None or change.state != "open":
            raise _Stop(render.REFUSAL_TARGET, {"status": "refused", "reason": "not our change"})
        issue = self.forge.get_issue(c.repo, number)
        diff = self.forge.get_diff(c.repo, c.number).unified
        return _Target(IssueText(number, issue.title, issue.body, c.guidance), change.head_ref,
                       change, diff)  # fmt: skip

    def _push_repo(self) -> RepoRef:
        """The base repository, or the fork of ``ASSIST_FIX_PUSH_REMOTE``."""
        return push_repo(self.settings.fix_push_remote, self.command.repo)

    def _push_url(self) -> SecretStr:
        return self.forge.clone_url(self._push_repo())

    def _config(self, default_branch: str) -> RepoConfig:
        try:
            raw = self.forge.read_file(self.command.repo, CONFIG_PATH, ref=default_branch)
        except NotFound:
            raw = None
        try:
            return parse_repo_config(raw)
        except RepoConfigError as exc:
            raise _Stop(
                render.failure_comment(self.command.author, reason=str(exc)),
                {"status": "failed", "reason": "config"},
            ) from exc

    def _run(self) -> dict[str, Any]:
        c = self.command
        target = self._target()
        url = self.forge.clone_url(c.repo)
        default = GitWorkspace.default_branch(url, env=self.git_env)
        # iterating on our own change: its branch is where we push (a fork, when configured)
        fetch_url = self._push_url() if target.branch is not None else url
        config = self._config(default)
        if not config.fix.enabled:
            raise _Stop(render.REFUSAL_DISABLED, {"status": "refused", "reason": "disabled"})
        scratch_root = self.settings.cache_dir / "fix"
        scratch_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="job-", dir=scratch_root) as tmp:
            self.progress("fetching the repository")
            ws = GitWorkspace.fetch(
                Path(tmp) / "work", fetch_url, target.branch or default, env=self.git_env
            )
            base_sha = ws.head()
            outcome = asyncio.run(
                run_fix(
                    self.settings,
                    target.issue,
                    ws,
                    config.fix,
                    scope=(c.repo.forge, c.repo.path, str(target.issue.number)),
                    scratch=Path(tmp) / "scratch",
                    progress=self.progress,
                    current_diff=target.current_diff,
                    repo=c.repo.path,
                    forge=c.repo.forge,
                )
            )
            ws.verify()  # git runs in it again only if its config is still what git wrote
            if outcome.ready:
                return self._propose(ws, target, outcome, base_sha, default)
            return self._give_up(ws, target, outcome, base_sha, config)

    def _commit(self, ws: GitWorkspace, issue: IssueText, outcome: FixOutcome) -> None:
        result = outcome.chosen
        assert result is not None
        ws.write(result.files)
        ws.commit(sorted(result.files), render.commit_message(issue, result))

    def _propose(
        self, ws: GitWorkspace, target: _Target, outcome: FixOutcome, base_sha: str, default: str
    ) -> dict[str, Any]:
        c, issue, result = self.command, target.issue, outcome.chosen
        assert result is not None
        assert issue.number is not None
        self.progress("pushing the change")
        self._commit(ws, issue, outcome)
        url = self._push_url()
        if target.branch is not None and target.change is not None:
            ws.push(url, target.branch, env=self.git_env)  # fast-forward only
            change, branch, updated = target.change, target.branch, True
        else:
            branch, updated = render.branch_name(issue.number, base_sha), False
            ws.push(url, branch, env=self.git_env, force=True)
            proposal = ChangeProposal(
                branch=branch,
                base=default,
                title=render.title(issue),
                body=render.pr_body(issue, outcome, result),
                commit_message=render.commit_message(issue, result),
                issue=issue.number,
                draft=True,
                head_repo=head_repo(self._push_repo(), c.repo),
            )
            try:
                change = self.forge.open_change(c.repo, proposal)
            except ForgeError:
                ws.delete_branch(url, branch, env=self.git_env)  # no branch left behind
                raise
        self.say(render.done_comment(c.author, change.url, result, updated=updated))
        return {
            "status": "updated" if updated else "opened",
            "branch": branch,
            "change": change.number,
            "url": change.url,
            "commit": ws.head(),
            "checks": {check.name: check.status.value for check in result.checks},
            "candidates": len(outcome.results),
            "files": sorted(result.files),
            "usage": outcome.usage.as_dict(),
        }

    def _give_up(
        self,
        ws: GitWorkspace,
        target: _Target,
        outcome: FixOutcome,
        base_sha: str,
        config: RepoConfig,
    ) -> dict[str, Any]:
        c, issue, result = self.command, target.issue, outcome.chosen
        partial = None
        if (
            config.fix.push_partial_branch
            and result is not None
            and result.files
            and target.branch is None
            and issue.number is not None
        ):
            self._commit(ws, issue, outcome)
            partial = render.branch_name(issue.number, base_sha, partial=True)
            ws.push(self._push_url(), partial, env=self.git_env, force=True)
        self.say(
            render.failure_comment(
                c.author, reason=_reason(outcome), outcome=outcome, partial_branch=partial
            )
        )
        return {
            "status": "failed",
            "reason": "checks" if result is not None and result.files else "no change",
            "partial_branch": partial,
            "candidates": len(outcome.results),
            "checks": {ch.name: ch.status.value for ch in (result.checks if result else ())},
            "usage": outcome.usage.as_dict(),
        }


def _reason(outcome: FixOutcome) -> str:
    result = outcome.chosen
    if result is None:
        return "I could not find where in the repository the fix goes."
    if result.error:
        return f"{result.error}."
    failed = [check.name for check in result.checks if check.status.value == "failed"]
    tried = len(outcome.results)
    return (
        f"the best of {tried} candidate(s) failed its checks ({', '.join(failed)})."
        if failed
        else "the candidates changed nothing."
    )
