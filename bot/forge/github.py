"""The Forge adapter for GitHub and GitHub Enterprise, on PyGithub."""

from __future__ import annotations

import base64
import logging
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from github import Auth, BadCredentialsException, Github, GithubException
from github.PullRequestComment import PullRequestComment
from github.Repository import Repository
from pydantic import SecretStr

from bot.domain import ForgeKind, RepoRef
from bot.forge.auth import TokenSource
from bot.forge.calls import ForgeCalls
from bot.forge.diffs import unified_diff
from bot.forge.errors import ForgeError, NotFound, ValidationFailed
from bot.forge.github_errors import map_github_error, map_transport_error
from bot.forge.github_objects import (
    comment_payload,
    commit_files,
    create_check_run,
    to_change,
    to_changed_file,
    to_issue_comment,
    to_line_comment,
    to_review_comment,
)
from bot.forge.identity import Identity, StaticIdentity
from bot.forge.markers import quote_lines, with_marker
from bot.forge.types import (
    ChangeProposal,
    ChangeRequest,
    ChangeState,
    Comment,
    CommitStatus,
    Diff,
    FindingThread,
    Issue,
    LineComment,
    Noteable,
    Permission,
    PostedReview,
    Reaction,
    Review,
    ReviewComment,
)

T = TypeVar("T")
log = logging.getLogger(__name__)
DIFF_MEDIA_TYPE = "application/vnd.github.diff"
ROLES = {
    "none": Permission.NONE,
    "read": Permission.READ,
    "triage": Permission.TRIAGE,
    "write": Permission.WRITE,
    "maintain": Permission.MAINTAIN,
    "admin": Permission.ADMIN,
}


def _map_error(error: Exception) -> ForgeError | None:
    if isinstance(error, GithubException):
        return map_github_error(error)
    if isinstance(error, requests.RequestException):
        return map_transport_error(error)
    return None


class GitHubForge:
    """GitHub through PyGithub. Build it in an entry point; it does no I/O until called."""

    def __init__(
        self,
        *,
        api_url: str,
        tokens: TokenSource,
        timeout_s: float = 30.0,
        bot_logins: frozenset[str] = frozenset(),
        identity: Identity | None = None,
        attempts: int = 3,
        backoff_s: float = 1.0,
        seconds_between_writes: float | None = 1.0,
        check_runs: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._tokens = tokens
        self._timeout_s = timeout_s
        self._seconds_between_writes = seconds_between_writes
        self._check_runs = check_runs
        self._calls: ForgeCalls[Github] = ForgeCalls(
            tokens=tokens,
            make_client=self._client,
            map_error=_map_error,
            # who we are: from the forge's API (built by the factory); bare logins without it
            identity=identity if identity is not None else StaticIdentity(bot_logins),
            expired=(BadCredentialsException,),
            attempts=attempts,
            backoff_s=backoff_s,
            sleep=sleep,
        )

    @property
    def kind(self) -> ForgeKind:
        return ForgeKind.GITHUB

    # --- plumbing ---------------------------------------------------------------------------

    def _client(self, token: str) -> Github:
        return Github(
            auth=Auth.Token(token),
            base_url=self._api_url,
            timeout=max(1, math.ceil(self._timeout_s)),
            per_page=100,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=self._seconds_between_writes,
            lazy=True,
        )

    def _run(self, repo: RepoRef, fn: Callable[[Repository], T], *, write: bool = False) -> T:
        """Run ``fn`` with the repository (bot.forge.calls: token refresh, retries, errors)."""
        return self._calls.run(repo, lambda gh: fn(gh.get_repo(repo.path)), write=write)

    # --- reading ----------------------------------------------------------------------------

    def get_change(self, repo: RepoRef, number: int) -> ChangeRequest:
        return self._run(repo, lambda r: to_change(repo, r.get_pull(number)))

    def get_diff(self, repo: RepoRef, number: int) -> Diff:
        def read(r: Repository) -> Diff:
            pull = r.get_pull(number)
            files = tuple(to_changed_file(f) for f in pull.get_files())
            try:
                _, data = r.requester.requestJsonAndCheck(
                    "GET", f"{r.url}/pulls/{number}", headers={"Accept": DIFF_MEDIA_TYPE}
                )
                unified = str((data or {}).get("data", ""))
            except GithubException as error:
                if error.status not in (406, 422):  # diff too large for the media type
                    raise
                unified = unified_diff(files)
            return Diff(files=files, unified=unified)

        return self._run(repo, read)

    def read_file(self, repo: RepoRef, path: str, *, ref: str) -> bytes:
        def read(r: Repository) -> bytes:
            content = r.get_contents(path, ref=ref)
            if isinstance(content, list):
                raise NotFound(f"{path} is a directory")
            if content.encoding == "none":  # over 1 MB: the contents API leaves it out
                return base64.b64decode(r.get_git_blob(content.sha).content)
            return content.decoded_content

        return self._run(repo, read)

    def get_issue(self, repo: RepoRef, number: int) -> Issue:
        def read(r: Repository) -> Issue:
            issue = r.get_issue(number)
            return Issue(
                repo=repo,
                number=number,
                title=issue.title,
                body=issue.body or "",
                author=issue.user.login,
                state="open" if issue.state == "open" else "closed",
                url=issue.html_url,
                locked=bool(issue.locked),
            )

        return self._run(repo, read)

    def list_changes(
        self, repo: RepoRef, *, state: ChangeState = "merged", limit: int = 100
    ) -> tuple[ChangeRequest, ...]:
        def read(r: Repository) -> tuple[ChangeRequest, ...]:
            found: list[ChangeRequest] = []
            listed = r.get_pulls(
                state="open" if state == "open" else "closed", sort="created", direction="desc"
            )
            for pull in listed:
                merged = pull.merged_at is not None
                if state == "open" or merged == (state == "merged"):
                    found.append(to_change(repo, pull))
                if len(found) >= limit:
                    break
            return tuple(found)

        return self._run(repo, read)

    def line_comments(self, repo: RepoRef, number: int) -> tuple[LineComment, ...]:
        def read(r: Repository) -> tuple[LineComment, ...]:
            return tuple(
                to_line_comment(c)
                for c in r.get_pull(number).get_review_comments()
                # the payload as received (as to_review_comment reads it): a thread's first
                # comment has no in_reply_to_id, and asking PyGithub for it fetches the comment
                if c._rawData.get("in_reply_to_id") is None and (c.original_line or c.line)
            )

        return self._run(repo, read)

    def list_comments(
        self, repo: RepoRef, number: int, *, marker: str | None = None, on: Noteable = "change"
    ) -> tuple[Comment, ...]:
        def read(r: Repository) -> tuple[Comment, ...]:
            issue = r.get_issue(number)
            found = [to_issue_comment(number, c, on) for c in issue.get_comments()]
            if on == "change":
                found += [to_review_comment(number, c) for c in r.get_pull(number).get_comments()]
            return tuple(c for c in found if self._ours(c, marker))

        return self._run(repo, read)

    def finding_threads(
        self, repo: RepoRef, number: int, *, marker: str
    ) -> tuple[FindingThread, ...]:
        def read(r: Repository) -> tuple[FindingThread, ...]:
            raw = list(r.get_pull(number).get_comments())
            comments = [(c, to_review_comment(number, c)) for c in raw]
            replies: dict[str, list[Comment]] = {}
            for _, c in comments:
                if c.thread_id != str(c.id):
                    replies.setdefault(c.thread_id or "", []).append(c)
            out: list[FindingThread] = []
            for original, c in comments:
                if c.thread_id != str(c.id) or not self._ours(c, marker):
                    continue
                summary = original._rawData.get("reactions")
                if isinstance(summary, dict) and not summary.get("total_count"):
                    reactions: tuple[tuple[str, str], ...] = ()
                else:
                    reactions = tuple((x.user.login, x.content) for x in original.get_reactions())
                out.append(FindingThread(c, tuple(replies.get(str(c.id), ())), reactions, None))
            return tuple(out)

        return self._run(repo, read)

    def comment_as_posted(self, repo: RepoRef, comment: Comment) -> Comment | None:
        """GitHub signs each delivery (HMAC of the body), so the payload's author is GitHub's
        word; the comment is returned as the verified delivery gave it."""
        del repo  # the Protocol's signature
        return comment

    def own_logins(self) -> frozenset[str]:
        return self._calls.own_logins()

    def _ours(self, comment: Comment, marker: str | None) -> bool:
        return self._calls.is_ours(comment, marker)

    # --- writing ----------------------------------------------------------------------------

    def post_review(self, change: ChangeRequest, review: Review) -> PostedReview:
        repo, number, head = change.repo, change.number, change.head_sha
        if not review.comments and not review.body:
            return PostedReview(posted=())

        def batch(r: Repository) -> PostedReview:
            url = f"{r.url}/pulls/{number}"
            payload = {
                "commit_id": head,
                "body": review.body,
                "event": "COMMENT",
                "comments": [comment_payload(c) for c in review.comments],
            }
            _, data = r.requester.requestJsonAndCheck("POST", f"{url}/reviews", input=payload)
            review_id = int(data["id"])
            posted = r.get_pull(number).get_single_review_comments(review_id)
            return PostedReview(
                posted=tuple(to_review_comment(number, c) for c in posted), review_id=review_id
            )

        try:
            return self._run(repo, batch, write=True)
        except ValidationFailed as error:
            log.warning(
                "review on %s#%d rejected as a batch (%s); posting %d comments one by one",
                repo, number, error, len(review.comments),
            )  # fmt: skip
        posted: list[Comment] = []
        rejected: list[ReviewComment] = []
        for comment in review.comments:
            try:
                posted.append(self._post_one(repo, number, head, comment))
            except ValidationFailed:
                rejected.append(comment)
        if rejected:
            log.warning(
                "%d review comments on %s#%d refused by GitHub", len(rejected), repo, number
            )
        review_id = None
        if review.body:

            def body_only(r: Repository) -> int:
                _, data = r.requester.requestJsonAndCheck(
                    "POST",
                    f"{r.url}/pulls/{number}/reviews",
                    input={"commit_id": head, "body": review.body, "event": "COMMENT"},
                )
                return int(data["id"])

            review_id = self._run(repo, body_only, write=True)
        return PostedReview(
            posted=tuple(posted), rejected=tuple(rejected), batched=False, review_id=review_id
        )

    def _post_one(self, repo: RepoRef, number: int, head: str, c: ReviewComment) -> Comment:
        def post(r: Repository) -> Comment:
            payload = {"commit_id": head, **comment_payload(c)}
            headers, data = r.requester.requestJsonAndCheck(
                "POST", f"{r.url}/pulls/{number}/comments", input=payload
            )
            return to_review_comment(
                number, PullRequestComment(r.requester, headers, data, completed=True)
            )

        return self._run(repo, post, write=True)

    def upsert_comment(
        self, repo: RepoRef, number: int, *, marker: str, body: str, on: Noteable = "change"
    ) -> Comment:
        text = with_marker(body, marker)

        def upsert(r: Repository) -> Comment:
            issue = r.get_issue(number)
            for existing in issue.get_comments():
                candidate = to_issue_comment(number, existing, on)
                if marker in candidate.body and self._ours(candidate, None):
                    existing.edit(text)
                    return to_issue_comment(number, existing, on)
            return to_issue_comment(number, issue.create_comment(text), on)

        return self._run(repo, upsert, write=True)

    def respond(
        self,
        repo: RepoRef,
        comment: Comment,
        *,
        body: str | None = None,
        reaction: Reaction | None = None,
    ) -> Comment | None:
        def respond(r: Repository) -> Comment | None:
            kind = "pulls" if comment.kind == "review" else "issues"
            if reaction is not None:
                r.requester.requestJsonAndCheck(
                    "POST",
                    f"{r.url}/{kind}/comments/{comment.id}/reactions",
                    input={"content": reaction.value},
                )
            if body is None:
                return None
            if comment.kind == "review":
                reply = r.get_pull(comment.number).create_review_comment_reply(comment.id, body)
                return to_review_comment(comment.number, reply)
            quoted = quote_lines(comment.body)
            text = f"{quoted}\n\n@{comment.author} {body}" if quoted else body
            created = r.get_issue(comment.number).create_comment(text)
            return to_issue_comment(comment.number, created, comment.on)

        return self._run(repo, respond, write=True)

    def set_status(self, repo: RepoRef, status: CommitStatus) -> None:
        """A commit status, or with ``check_runs`` (App mode only) a check run."""
        if self._check_runs:
            self._run(repo, lambda r: create_check_run(r, status), write=True)
            return

        def post(r: Repository) -> None:
            payload: dict[str, Any] = {
                "state": status.state.value,
                "context": status.context,
                "description": status.description[:140],
            }
            if status.target_url:
                payload["target_url"] = status.target_url
            r.requester.requestJsonAndCheck(
                "POST", f"{r.url}/statuses/{quote(status.sha)}", input=payload
            )

        self._run(repo, post, write=True)

    def permission(self, repo: RepoRef, user: str) -> Permission:
        def read(r: Repository) -> Permission:
            role = r.get_collaborator_role_name(user)
            if role in ROLES:
                return ROLES[role]
            return ROLES.get(r.get_collaborator_permission(user), Permission.READ)

        try:
            return self._run(repo, read)
        except NotFound:
            return Permission.NONE

    def open_change(self, repo: RepoRef, proposal: ChangeProposal) -> ChangeRequest:
        """From a branch of ``repo``, or of the fork ``proposal.head_repo`` (head
        ``forkowner:branch``)."""
        where = RepoRef(ForgeKind.GITHUB, proposal.head_repo) if proposal.head_repo else repo
        owner = where.path.split("/")[0]
        head = f"{owner}:{proposal.branch}" if proposal.head_repo else proposal.branch

        def existing(r: Repository) -> ChangeRequest | None:
            for pull in r.get_pulls(state="open", head=f"{owner}:{proposal.branch}"):
                return to_change(repo, pull)
            return None

        found = self._run(repo, existing)
        if found is not None:
            return found
        if proposal.files:
            self._run(where, lambda r: commit_files(r, proposal), write=True)
        body = proposal.body
        if proposal.issue is not None and f"#{proposal.issue}" not in body:
            body = f"{body}\n\nCloses #{proposal.issue}".strip()

        def create(r: Repository) -> ChangeRequest:
            pull = r.create_pull(
                base=proposal.base,
                head=head,
                title=proposal.title,
                body=body,
                draft=proposal.draft,
            )
            return to_change(repo, pull)

        return self._run(repo, create, write=True)

    def clone_url(self, repo: RepoRef) -> SecretStr:
        token = self._tokens.token(repo)
        api = urlsplit(self._api_url)
        host = api.netloc.removeprefix("api.")
        base_path = api.path.removesuffix("/api/v3").rstrip("/")
        netloc = f"x-access-token:{quote(token, safe='')}@{host}"
        return SecretStr(urlunsplit((api.scheme, netloc, f"{base_path}/{repo.path}.git", "", "")))
