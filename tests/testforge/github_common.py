"""Shared parts of the GitHub side: the route table, lookups, and the JSON shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.testforge.http import HttpError, Request, Response
from tests.testforge.state import Issue, Note, Repo, ReviewRecord

if TYPE_CHECKING:
    from tests.testforge.server import TestForge

Handler = Callable[["TestForge", Request, dict[str, str]], Response]
ROUTES: dict[tuple[str, str], Handler] = {}
LARGE_FILE = 1024 * 1024
UNPROCESSABLE = "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request"


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ROUTES[(method, template)] = fn
        return fn

    return register


def unprocessable(message: str) -> HttpError:
    return HttpError(
        422,
        {
            "message": "Unprocessable Entity",
            "errors": [message],
            "documentation_url": UNPROCESSABLE,
        },
    )


def user_json(forge: TestForge, login: str) -> dict[str, Any]:
    user = forge.user(login)
    return {
        "login": login,
        "id": user.id,
        "node_id": f"U_{user.id}",
        "type": "Bot" if login.endswith("[bot]") else "User",
        "site_admin": False,
        "url": f"{forge.github_api_url}/users/{login}",
        "html_url": f"{forge.url}/{login}",
        "avatar_url": f"{forge.url}/avatars/{user.id}",
    }


def repo_json(forge: TestForge, repo: Repo) -> dict[str, Any]:
    owner = repo.path.split("/")[0]
    return {
        "id": repo.id,
        "node_id": f"R_{repo.id}",
        "name": repo.path.split("/")[-1],
        "full_name": repo.path,
        "private": False,
        "owner": user_json(forge, owner),
        "html_url": f"{forge.url}/{repo.path}",
        "url": f"{forge.github_api_url}/repos/{repo.path}",
        "clone_url": f"{forge.url}/{repo.path}.git",
        "default_branch": repo.default_branch,
        "fork": False,
    }


def pr_json(forge: TestForge, repo: Repo, pr: Issue) -> dict[str, Any]:
    refs = repo.diff_refs(pr)
    api = f"{forge.github_api_url}/repos/{repo.path}"
    head_repo = forge.repos[pr.head_repo] if pr.head_repo else repo
    return {
        "id": pr.id,
        "node_id": f"PR_{pr.id}",
        "number": pr.number,
        "state": "closed" if pr.state != "open" else "open",
        "locked": False,
        "title": pr.title,
        "body": pr.body,
        "user": user_json(forge, pr.author),
        "draft": pr.draft,
        "merged": pr.merged,
        "merged_at": pr.merged_at,
        "url": f"{api}/pulls/{pr.number}",
        "html_url": f"{forge.url}/{repo.path}/pull/{pr.number}",
        "diff_url": f"{forge.url}/{repo.path}/pull/{pr.number}.diff",
        "issue_url": f"{api}/issues/{pr.number}",
        "created_at": pr.created_at,
        "updated_at": pr.created_at,
        "head": {
            "ref": pr.head,
            "sha": refs["head_sha"],
            "label": f"{head_repo.path.split('/')[0]}:{pr.head}",
            "repo": repo_json(forge, head_repo),
            "user": user_json(forge, head_repo.path.split("/")[0]),
        },
        "base": {
            "ref": pr.base,
            "sha": refs["start_sha"],
            "label": f"{repo.path.split('/')[0]}:{pr.base}",
            "repo": repo_json(forge, repo),
            "user": user_json(forge, repo.path.split("/")[0]),
        },
    }


def issue_json(forge: TestForge, repo: Repo, issue: Issue) -> dict[str, Any]:
    data = {
        "id": issue.id,
        "node_id": f"I_{issue.id}",
        "number": issue.number,
        "title": issue.title,
        "body": issue.body,
        "state": "closed" if issue.state != "open" else "open",
        "locked": issue.locked,
        "user": user_json(forge, issue.author),
        "url": f"{forge.github_api_url}/repos/{repo.path}/issues/{issue.number}",
        "html_url": f"{forge.url}/{repo.path}/issues/{issue.number}",
        "created_at": issue.created_at,
        "updated_at": issue.created_at,
        "labels": [],
        "comments": len([n for n in repo.notes if n.number == issue.number]),
    }
    if issue.is_pr:
        data["pull_request"] = {
            "url": f"{forge.github_api_url}/repos/{repo.path}/pulls/{issue.number}"
        }
    return data


def note_json(forge: TestForge, repo: Repo, note: Note) -> dict[str, Any]:
    api = f"{forge.github_api_url}/repos/{repo.path}"
    data: dict[str, Any] = {
        "id": note.id,
        "node_id": f"C_{note.id}",
        "body": note.body,
        "user": user_json(forge, note.author),
        "created_at": note.created_at,
        "updated_at": note.updated_at,
        "author_association": "NONE",
    }
    if note.kind == "issue":
        data["url"] = f"{api}/issues/comments/{note.id}"
        data["html_url"] = f"{forge.url}/{repo.path}/issues/{note.number}#issuecomment-{note.id}"
        data["issue_url"] = f"{api}/issues/{note.number}"
        return data
    data.update(
        url=f"{api}/pulls/comments/{note.id}",
        html_url=f"{forge.url}/{repo.path}/pull/{note.number}#discussion_r{note.id}",
        pull_request_url=f"{api}/pulls/{note.number}",
        pull_request_review_id=note.review_id,
        diff_hunk="@@",
        path=note.path,
        position=note.line,
        original_position=note.line,
        commit_id=note.commit_id,
        original_commit_id=note.commit_id,
        line=note.line,
        original_line=note.line,
        start_line=note.start_line,
        original_start_line=note.start_line,
        side=note.side or "RIGHT",
        subject_type="line",
    )
    if note.start_line:
        data["start_side"] = note.side or "RIGHT"
    if note.in_reply_to:
        data["in_reply_to_id"] = note.in_reply_to
    return data


def review_json(forge: TestForge, repo: Repo, review: ReviewRecord) -> dict[str, Any]:
    return {
        "id": review.id,
        "node_id": f"PRR_{review.id}",
        "user": user_json(forge, review.author),
        "body": review.body,
        "state": review.state,
        "commit_id": review.commit_id,
        "submitted_at": review.submitted_at,
        "author_association": "NONE",
        "html_url": f"{forge.url}/{repo.path}/pull/{review.number}#pullrequestreview-{review.id}",
        "pull_request_url": f"{forge.github_api_url}/repos/{repo.path}/pulls/{review.number}",
        "_links": {"html": {"href": ""}, "pull_request": {"href": ""}},
    }


def find_repo(forge: TestForge, p: dict[str, str]) -> Repo:
    return forge.repo(f"{unquote(p['owner'])}/{unquote(p['repo'])}")


def find_pull(forge: TestForge, repo: Repo, number: str) -> Issue:
    pr = repo.pr(int(number))
    if pr is None:
        raise HttpError(404, {"message": "Not Found"})
    return pr


def require_write(forge: TestForge, req: Request, repo: Repo) -> None:
    if not forge.can_write(req.token, repo):
        raise HttpError(403, {"message": "Resource not accessible by integration"})
