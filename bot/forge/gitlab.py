"""The Forge adapter for GitLab (gitlab.com or self-managed), on python-gitlab.

Merge requests are :class:`ChangeRequest`\\ s, discussions with a ``position`` are inline review
comments, commit statuses stand in for checks.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import gitlab
import requests
from gitlab.exceptions import GitlabError
from gitlab.v4.objects import Project
from pydantic import SecretStr

from bot.domain import ForgeKind, RepoRef
from bot.forge.auth import TokenSource
from bot.forge.calls import ForgeCalls
from bot.forge.diffs import old_lines, unified_diff
from bot.forge.errors import ForgeError, ForgeUnavailable, ValidationFailed
from bot.forge.gitlab_errors import LastHeaders, map_gitlab_error
from bot.forge.gitlab_objects import (
    position_for,
    to_change,
    to_changed_file,
    to_comment,
    to_line_comment,
)
from bot.forge.identity import Identity, StaticIdentity
from bot.forge.markers import quote_lines, with_marker
from bot.forge.types import (
    ChangedFile,
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
    StatusState,
)

T = TypeVar("T")
log = logging.getLogger(__name__)
EMOJI = {
    Reaction.THUMBS_UP: "thumbsup",
    Reaction.THUMBS_DOWN: "thumbsdown",
    Reaction.HOORAY: "tada",
    Reaction.LAUGH: "laughing",
}
STATES = {
    StatusState.PENDING: "pending",
    StatusState.SUCCESS: "success",
    StatusState.FAILURE: "failed",
    StatusState.ERROR: "failed",
}


class _Gitlab(gitlab.Gitlab):
    """python-gitlab, told not to sleep through rate limits itself: we raise RateLimited and
    let the caller decide (see :func:`bot.forge.retry.wait_for_rate_limit`)."""

    def http_request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["obey_rate_limit"] = False
        kwargs["max_retries"] = 0
        return super().http_request(*args, **kwargs)


def access_permission(level: int) -> Permission:
    """GitLab access levels: Guest 10, Planner 15, Reporter 20, Developer 30 (writes),
    Maintainer 40, Owner 50."""
    if level >= 50:
        return Permission.ADMIN
    if level >= 40:
        return Permission.MAINTAIN
    if level >= 30:
        return Permission.WRITE
    if level >= 20:
        return Permission.TRIAGE
    if level >= 10:
        return Permission.READ
    return Permission.NONE


class GitLabForge:
    """GitLab through python-gitlab. Build it in an entry point; it does no I/O until called."""

    def __init__(
        self,
        *,
        url: str,
        tokens: TokenSource,
        timeout_s: float = 30.0,
        bot_logins: frozenset[str] = frozenset(),
        identity: Identity | None = None,
        attempts: int = 3,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url.rstrip("/")
        self._tokens = tokens
        self._timeout_s = timeout_s
        self._last = LastHeaders()
        self._calls: ForgeCalls[gitlab.Gitlab] = ForgeCalls(
            tokens=tokens,
            make_client=self._client,
            map_error=self._map_error,
            # who we are: from the forge's API (built by the factory); bare logins without it
            identity=identity if identity is not None else StaticIdentity(bot_logins),
            attempts=attempts,
            backoff_s=backoff_s,
            sleep=sleep,
        )

    @property
    def kind(self) -> ForgeKind:
        return ForgeKind.GITLAB

    # --- plumbing ---------------------------------------------------------------------------

    def _client(self, token: str) -> gitlab.Gitlab:
        session = requests.Session()
        session.hooks["response"].append(self._last.hook)
        return _Gitlab(
            self._url,
            private_token=token,
            timeout=self._timeout_s,
            retry_transient_errors=False,
            per_page=100,
            session=session,
            keep_base_url=True,
        )

    def _map_error(self, error: Exception) -> ForgeError | None:
        if isinstance(error, GitlabError):
            return map_gitlab_error(error, self._last)
        if isinstance(error, requests.RequestException):
            return ForgeUnavailable(f"GitLab unreachable: {type(error).__name__}")
        return None

    def _run(self, repo: RepoRef, fn: Callable[[Project], T], *, write: bool = False) -> T:
        """Run ``fn`` with the project (bot.forge.calls: retries, errors)."""
        return self._calls.run(
            repo, lambda gl: fn(gl.projects.get(repo.path, lazy=True)), write=write
        )

    # --- reading ----------------------------------------------------------------------------

    def get_change(self, repo: RepoRef, number: int) -> ChangeRequest:
        return self._run(repo, lambda p: to_change(repo, p.mergerequests.get(number).attributes))

    def _files(self, p: Project, number: int) -> tuple[ChangedFile, ...]:
        path = f"/projects/{p.encoded_id}/merge_requests/{number}/diffs"
        items = p.manager.gitlab.http_list(path, iterator=True, per_page=100)
        return tuple(to_changed_file(item) for item in items)

    def get_diff(self, repo: RepoRef, number: int) -> Diff:
        def read(p: Project) -> Diff:
            files = self._files(p, number)
            return Diff(files=files, unified=unified_diff(files))

        return self._run(repo, read)

    def read_file(self, repo: RepoRef, path: str, *, ref: str) -> bytes:
        def read(p: Project) -> bytes:
            content = p.files.raw(file_path=path, ref=ref)
            return content if isinstance(content, bytes) else bytes(content or b"")

        return self._run(repo, read)

    def get_issue(self, repo: RepoRef, number: int) -> Issue:
        def read(p: Project) -> Issue:
            a = p.issues.get(number).attributes
            return Issue(
                repo=repo,
                number=number,
                title=a["title"],
                body=a.get("description") or "",
                author=a["author"]["username"],
                state="open" if a["state"] == "opened" else "closed",
                url=a.get("web_url", ""),
                locked=bool(a.get("discussion_locked")),
            )

        return self._run(repo, read)

    def list_changes(
        self, repo: RepoRef, *, state: ChangeState = "merged", limit: int = 100
    ) -> tuple[ChangeRequest, ...]:
        wanted = {"open": "opened", "merged": "merged", "closed": "closed"}[state]

        def read(p: Project) -> tuple[ChangeRequest, ...]:
            found: list[ChangeRequest] = []
            listed = p.mergerequests.list(
                state=wanted, order_by="created_at", sort="desc", iterator=True
            )
            for mr in listed:
                # The list leaves out diff_refs: each merge request is read whole.
                found.append(to_change(repo, p.mergerequests.get(mr.iid).attributes))
                if len(found) >= limit:
                    break
            return tuple(found)

        return self._run(repo, read)

    def line_comments(self, repo: RepoRef, number: int) -> tuple[LineComment, ...]:
        def read(p: Project) -> tuple[LineComment, ...]:
            found: list[LineComment] = []
            mr = p.mergerequests.get(number, lazy=True)
            for discussion in mr.discussions.list(iterator=True):
                notes = [n for n in discussion.attributes["notes"] if not n.get("system")]
                comment = to_line_comment(notes[0]) if notes else None
                if comment is not None:
                    found.append(comment)
            return tuple(found)

        return self._run(repo, read)

    def _noteable(self, p: Project, number: int, on: Noteable) -> Any:
        if on == "issue":
            return p.issues.get(number, lazy=True)
        return p.mergerequests.get(number, lazy=True)

    def _comments(self, p: Project, number: int, on: Noteable) -> list[Comment]:
        found = []
        for discussion in self._noteable(p, number, on).discussions.list(iterator=True):
            for note in discussion.attributes["notes"]:
                if not note.get("system"):
                    found.append(to_comment(number, discussion.id, note, on))
        return found

    def list_comments(
        self, repo: RepoRef, number: int, *, marker: str | None = None, on: Noteable = "change"
    ) -> tuple[Comment, ...]:
        def read(p: Project) -> tuple[Comment, ...]:
            return tuple(c for c in self._comments(p, number, on) if self._ours(c, marker))

        return self._run(repo, read)

    def finding_threads(
        self, repo: RepoRef, number: int, *, marker: str
    ) -> tuple[FindingThread, ...]:
        names = {name: reaction.value for reaction, name in EMOJI.items()}

        def read(p: Project) -> tuple[FindingThread, ...]:
            mr = p.mergerequests.get(number, lazy=True)
            out: list[FindingThread] = []
            for discussion in mr.discussions.list(iterator=True):
                notes = [n for n in discussion.attributes["notes"] if not n.get("system")]
                if not notes:
                    continue
                first = to_comment(number, discussion.id, notes[0], "change")
                if first.kind != "review" or not self._ours(first, marker):
                    continue
                awards = mr.notes.get(first.id, lazy=True).awardemojis.list(iterator=True)
                reactions = tuple(
                    (str(a.user["username"]), names.get(a.name, a.name)) for a in awards
                )
                resolved = notes[0].get("resolved") if notes[0].get("resolvable") else None
                out.append(
                    FindingThread(
                        first,
                        tuple(to_comment(number, discussion.id, n, "change") for n in notes[1:]),
                        reactions,
                        bool(resolved) if resolved is not None else None,
                    )
                )
            return tuple(out)

        return self._run(repo, read)

    def comment_as_posted(self, repo: RepoRef, comment: Comment) -> Comment | None:
        """The note re-read from the API: a webhook token proves the sender knows it, not who
        wrote the note, so the author of a command always comes from here."""

        def read(p: Project) -> Comment | None:
            for found in self._comments(p, comment.number, comment.on):
                if found.id == comment.id:
                    return found
            return None

        return self._run(repo, read)

    def own_logins(self) -> frozenset[str]:
        return self._calls.own_logins()

    def _ours(self, comment: Comment, marker: str | None) -> bool:
        return self._calls.is_ours(comment, marker)

    # --- writing ----------------------------------------------------------------------------

    def post_review(self, change: ChangeRequest, review: Review) -> PostedReview:
        """Each inline comment becomes a discussion anchored to the change's ``diff_refs``;
        those GitLab refuses (400: position outside the diff) are returned as rejected."""
        repo, number = change.repo, change.number
        olds: dict[str, dict[int, int]] = {}
        if any(c.start_line is not None for c in review.comments):
            files = self._run(repo, lambda p: self._files(p, number))
            olds = {f.path: old_lines(f.patch) for f in files}
        posted: list[Comment] = []
        rejected: list[ReviewComment] = []
        for comment in review.comments:
            position = position_for(change.diff_refs, comment, olds.get(comment.path, {}))

            def post(
                p: Project, c: ReviewComment = comment, pos: dict[str, Any] = position
            ) -> Comment:
                mr = p.mergerequests.get(number, lazy=True)
                discussion = mr.discussions.create({"body": c.body, "position": pos})
                note = discussion.attributes["notes"][0]
                return to_comment(number, discussion.id, note, "change")

            try:
                posted.append(self._run(repo, post, write=True))
            except ValidationFailed:
                rejected.append(comment)
        if rejected:
            log.warning(
                "%d review comments on %s!%d refused by GitLab", len(rejected), repo, number
            )
        if review.body:

            def note(p: Project) -> None:
                p.mergerequests.get(number, lazy=True).notes.create({"body": review.body})

            self._run(repo, note, write=True)
        return PostedReview(posted=tuple(posted), rejected=tuple(rejected), batched=False)

    def upsert_comment(
        self, repo: RepoRef, number: int, *, marker: str, body: str, on: Noteable = "change"
    ) -> Comment:
        text = with_marker(body, marker)

        def upsert(p: Project) -> Comment:
            noteable = self._noteable(p, number, on)
            for existing in self._comments(p, number, on):
                if (
                    existing.kind == "issue"
                    and marker in existing.body
                    and self._ours(existing, None)
                ):
                    note = noteable.notes.get(existing.id, lazy=True)
                    note.body = text
                    note.save()
                    return Comment(
                        id=existing.id, kind="issue", number=number, author=existing.author,
                        body=text, url=existing.url, thread_id=existing.thread_id, on=on,
                    )  # fmt: skip
            created = noteable.notes.create({"body": text}).attributes
            return to_comment(number, None, created, on)

        return self._run(repo, upsert, write=True)

    def respond(
        self,
        repo: RepoRef,
        comment: Comment,
        *,
        body: str | None = None,
        reaction: Reaction | None = None,
    ) -> Comment | None:
        def respond(p: Project) -> Comment | None:
            noteable = self._noteable(p, comment.number, comment.on)
            if reaction is not None:
                emoji = EMOJI.get(reaction, reaction.value)
                try:
                    noteable.notes.get(comment.id, lazy=True).awardemojis.create({"name": emoji})
                except GitlabError as error:
                    if error.response_code != 404 or "taken" not in str(error.error_message):
                        raise
            if body is None:
                return None
            if comment.thread_id is None:
                quoted = quote_lines(comment.body)
                text = f"{quoted}\n\n@{comment.author} {body}" if quoted else body
                created = noteable.notes.create({"body": text}).attributes
                return to_comment(comment.number, None, created, comment.on)
            discussion = noteable.discussions.get(comment.thread_id, lazy=True)
            note = discussion.notes.create({"body": body}).attributes
            return to_comment(comment.number, comment.thread_id, note, comment.on)

        return self._run(repo, respond, write=True)

    def set_status(self, repo: RepoRef, status: CommitStatus) -> None:
        def post(p: Project) -> None:
            data: dict[str, Any] = {
                "state": STATES[status.state],
                "name": status.context,
                "description": status.description,
            }
            if status.target_url:
                data["target_url"] = status.target_url
            p.commits.get(status.sha, lazy=True).statuses.create(data)

        self._run(repo, post, write=True)

    def permission(self, repo: RepoRef, user: str) -> Permission:
        def read(p: Project) -> Permission:
            users = p.manager.gitlab.users.list(username=user, get_all=False)
            if not users:
                return Permission.NONE
            try:
                member = p.members_all.get(users[0].id)
            except GitlabError as error:
                if error.response_code == 404:
                    return Permission.NONE
                raise
            return access_permission(int(member.access_level))

        return self._run(repo, read)

    def open_change(self, repo: RepoRef, proposal: ChangeProposal) -> ChangeRequest:
        """From a branch of ``repo``, or of the fork ``proposal.head_repo``: the merge request
        is then created on the fork (its source project) with ``repo`` as its target."""
        where = RepoRef(ForgeKind.GITLAB, proposal.head_repo) if proposal.head_repo else repo
        source = target = None
        if proposal.head_repo:
            source = self._run(where, _project_id)
            target = self._run(repo, _project_id)

        def existing(p: Project) -> ChangeRequest | None:
            for mr in p.mergerequests.list(
                source_branch=proposal.branch, state="opened", iterator=True
            ):
                # the same branch name in someone else's fork is not ours
                a = mr.attributes
                expected = source if source is not None else a.get("target_project_id")
                if a.get("source_project_id") in (None, expected):
                    return to_change(repo, a)
            return None

        found = self._run(repo, existing)
        if found is not None:
            return found
        if proposal.files:
            self._run(where, lambda p: self._commit(p, proposal), write=True)
        body = proposal.body
        if proposal.issue is not None and f"#{proposal.issue}" not in body:
            body = f"{body}\n\nCloses #{proposal.issue}".strip()
        title = proposal.title
        if proposal.draft and not title.lower().startswith("draft:"):
            title = f"Draft: {title}"

        def create(p: Project) -> ChangeRequest:
            data: dict[str, Any] = {
                "source_branch": proposal.branch,
                "target_branch": proposal.base,
                "title": title,
                "description": body,
                "remove_source_branch": True,
            }
            if target is not None:
                data["target_project_id"] = target
            mr = p.mergerequests.create(data)
            return to_change(repo, mr.attributes)

        return self._run(where, create, write=True)

    def _commit(self, p: Project, proposal: ChangeProposal) -> None:
        actions = []
        for change in proposal.files:
            if change.content is None:
                actions.append({"action": "delete", "file_path": change.path})
                continue
            try:
                p.files.raw(file_path=change.path, ref=proposal.base)
                action = "update"
            except GitlabError as error:
                if error.response_code != 404:
                    raise
                action = "create"
            actions.append(
                {
                    "action": action,
                    "file_path": change.path,
                    "content": base64.b64encode(change.content).decode(),
                    "encoding": "base64",
                }
            )
        p.commits.create(
            {
                "branch": proposal.branch,
                "start_branch": proposal.base,
                "force": True,
                "commit_message": proposal.commit_message or proposal.title,
                "actions": actions,
            }
        )

    def clone_url(self, repo: RepoRef) -> SecretStr:
        token = self._tokens.token(repo)
        base = urlsplit(self._url)
        netloc = f"oauth2:{quote(token, safe='')}@{base.netloc}"
        path = f"{base.path.rstrip('/')}/{repo.path}.git"
        return SecretStr(urlunsplit((base.scheme, netloc, path, "", "")))


def _project_id(p: Project) -> int:
    """The numeric id of a project handed over lazily (by path)."""
    return int(p.manager.gitlab.projects.get(p.get_id()).get_id())  # type: ignore[arg-type]
