"""PyGithub objects to our value types and back; the Git Data API steps of a commit."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from github import GithubException, InputGitTreeElement
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest
from github.PullRequestComment import PullRequestComment
from github.Repository import Repository

from bot.domain import RepoRef
from bot.forge.types import (
    ChangedFile,
    ChangeProposal,
    ChangeRequest,
    ChangeState,
    Comment,
    CommitStatus,
    DiffRefs,
    FileStatus,
    LineComment,
    Noteable,
    ReviewComment,
    StatusState,
)

CONCLUSIONS = {
    StatusState.SUCCESS: "success",
    StatusState.FAILURE: "failure",
    StatusState.ERROR: "action_required",
}


def create_check_run(r: Repository, status: CommitStatus) -> None:
    output: dict[str, str | list[dict[str, str | int]]] = {
        "title": status.context,
        "summary": status.description or status.state.value,
    }
    extra: dict[str, Any] = {"details_url": status.target_url} if status.target_url else {}
    if status.state == StatusState.PENDING:
        r.create_check_run(status.context, status.sha, status="in_progress", output=output, **extra)
    else:
        r.create_check_run(
            status.context,
            status.sha,
            status="completed",
            conclusion=CONCLUSIONS[status.state],
            output=output,
            **extra,
        )


def commit_files(r: Repository, proposal: ChangeProposal) -> None:
    base_sha = r.get_git_ref(f"heads/{proposal.base}").object.sha
    base_commit = r.get_git_commit(base_sha)
    elements = []
    for change in proposal.files:
        if change.content is None:
            elements.append(InputGitTreeElement(change.path, "100644", "blob", sha=None))
        else:
            encoded = base64.b64encode(change.content).decode()
            blob = r.create_git_blob(encoded, "base64")
            elements.append(InputGitTreeElement(change.path, "100644", "blob", sha=blob.sha))
    tree = r.create_git_tree(elements, base_tree=base_commit.tree)
    message = proposal.commit_message or proposal.title
    commit = r.create_git_commit(message, tree, [base_commit])
    try:
        r.create_git_ref(f"refs/heads/{proposal.branch}", commit.sha)
    except GithubException as error:
        if error.status != 422:  # the branch exists: move it (PATCH .../git/refs/heads/...)
            raise
        r.requester.requestJsonAndCheck(
            "PATCH",
            f"{r.url}/git/refs/heads/{quote(proposal.branch)}",
            input={"sha": commit.sha, "force": True},
        )


def to_change(repo: RepoRef, pull: PullRequest) -> ChangeRequest:
    # merged_at, not merged: a listed pull request has no "merged" (PyGithub would fetch it)
    merged = pull.merged_at is not None
    state: ChangeState = "merged" if merged else ("open" if pull.state == "open" else "closed")
    return ChangeRequest(
        repo=repo,
        number=pull.number,
        title=pull.title,
        body=pull.body or "",
        author=pull.user.login,
        state=state,
        draft=bool(pull.draft),
        base_ref=pull.base.ref,
        head_ref=pull.head.ref,
        diff_refs=DiffRefs(base_sha=pull.base.sha, start_sha=pull.base.sha, head_sha=pull.head.sha),
        url=pull.html_url,
    )


def to_changed_file(f: Any) -> ChangedFile:
    status: FileStatus = f.status if f.status in {"added", "removed", "renamed"} else "modified"
    return ChangedFile(
        path=f.filename,
        status=status,
        patch=f.patch,
        old_path=f.previous_filename,
        additions=f.additions,
        deletions=f.deletions,
    )


def to_issue_comment(number: int, c: IssueComment, on: Noteable = "change") -> Comment:
    return Comment(
        id=c.id,
        kind="issue",
        number=number,
        author=c.user.login,
        body=c.body or "",
        url=c.html_url,
        on=on,
    )


def to_review_comment(number: int, c: PullRequestComment) -> Comment:
    # The payload as received: attributes it lacks (``in_reply_to_id`` on a thread's first
    # comment) would otherwise make PyGithub fetch the comment again.
    raw = c._rawData
    root = raw.get("in_reply_to_id") or c.id
    return Comment(
        id=c.id,
        kind="review",
        number=number,
        author=c.user.login,
        body=c.body or "",
        url=c.html_url,
        path=c.path,
        line=raw.get("line"),
        thread_id=str(root),
    )


def comment_payload(c: ReviewComment) -> dict[str, Any]:
    payload: dict[str, Any] = {"path": c.path, "line": c.line, "side": "RIGHT", "body": c.body}
    if c.start_line is not None and c.start_line < c.line:
        payload.update(start_line=c.start_line, start_side="RIGHT")
    return payload


def to_line_comment(c: PullRequestComment) -> LineComment:
    """Where the comment was made: GitHub moves ``line``/``commit_id`` along with later
    pushes (or clears them); the ``original_*`` fields keep the reviewed revision."""
    line = c.original_line or c.line
    start = c.original_start_line if c.original_line else c.start_line
    return LineComment(
        id=c.id,
        path=c.path,
        line=int(line),
        commit=c.original_commit_id or c.commit_id,
        author=c.user.login,
        body=c.body or "",
        side="LEFT" if c.side == "LEFT" else "RIGHT",
        start_line=start,
        author_is_bot=c.user.type == "Bot",
    )
