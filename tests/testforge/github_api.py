"""GitHub REST endpoints of the test forge: pulls, files, contents, issues, comments, reviews.

Routes are keyed by the description's path templates (see ``github_common.route``)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.testforge.github_common import (
    LARGE_FILE,
    find_pull,
    find_repo,
    issue_json,
    note_json,
    pr_json,
    repo_json,
    require_write,
    review_json,
    route,
    unprocessable,
    user_json,
)
from tests.testforge.http import HttpError, Request, Response, paginate_github
from tests.testforge.state import Issue, Note, Repo, ReviewRecord

if TYPE_CHECKING:
    from tests.testforge.server import TestForge

# --- repositories, pulls, files --------------------------------------------------------------


@route("get", "/repos/{owner}/{repo}")
def get_repo(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    return Response(200, repo_json(forge, find_repo(forge, p)))


@route("get", "/repos/{owner}/{repo}/pulls/{pull_number}")
def get_pull(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    pr = find_pull(forge, repo, p["pull_number"])
    if "diff" in req.headers.get("accept", ""):
        refs = repo.diff_refs(pr)
        raw, files = forge.diff(repo, refs["base_sha"], refs["head_sha"])
        if len(files) > 300:
            raise HttpError(
                406,
                {
                    "message": "Sorry, the diff exceeded the maximum number of files (300). "
                    "Consider using 'List pull requests files' API or locally cloning the "
                    "repository instead.",
                    "errors": [{"resource": "PullRequest", "field": "diff", "code": "too_large"}],
                },
            )
        return Response(200, raw, {"Content-Type": "application/vnd.github.diff; charset=utf-8"})
    return Response(200, pr_json(forge, repo, pr))


@route("get", "/repos/{owner}/{repo}/pulls")
def list_pulls(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    state = req.arg("state", "open")
    head = req.arg("head")
    # GitHub's default order: created, newest first (direction=asc for oldest first)
    items = [
        pr_json(forge, repo, pr)
        for pr in sorted(repo.issues.values(), key=lambda i: i.number, reverse=True)
        if pr.is_pr
        and (state == "all" or ("open" if pr.state == "open" else "closed") == state)
        and (head is None or _head_matches(repo, pr, head))
    ]
    if req.arg("direction") == "asc":
        items.reverse()
    return paginate_github(req, items, f"{req.base_url}/repos/{repo.path}/pulls")


def _head_matches(repo: Repo, pr: Issue, head: str) -> bool:
    """GitHub's ``head`` filter: ``owner:branch``, the owner of the repository the branch is in."""
    owner, _, branch = head.rpartition(":")
    where = pr.head_repo or repo.path
    return branch == pr.head and (not owner or owner == where.split("/")[0])


@route("post", "/repos/{owner}/{repo}/pulls")
def create_pull(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    data = req.json()
    owner, _, head = data["head"].rpartition(":")
    head_repo = None
    if owner and owner != repo.path.split("/")[0]:  # "forkowner:branch": from a fork
        forks = [
            r for r in forge.repos.values()
            if r.fork_of == repo.path and r.path.split("/")[0] == owner
        ]  # fmt: skip
        if not forks or forks[0].git.rev(f"refs/heads/{head}") is None:
            raise unprocessable(f"head {data['head']} does not exist")
        head_repo = forks[0].path
    for name in (head, data["base"]) if head_repo is None else (data["base"],):
        if repo.git.rev(f"refs/heads/{name}") is None:
            raise unprocessable(f"branch {name} does not exist")
    number = forge.add_pull(
        repo.path,
        head_repo=head_repo,
        head=head,
        base=data["base"],
        title=data.get("title", ""),
        body=data.get("body") or "",
        author=req.login,
        draft=bool(data.get("draft", False)),
    )
    return Response(201, pr_json(forge, repo, repo.issues[number]))


@route("get", "/repos/{owner}/{repo}/pulls/{pull_number}/files")
def list_pull_files(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    pr = find_pull(forge, repo, p["pull_number"])
    refs = repo.diff_refs(pr)
    _, files = forge.diff(repo, refs["base_sha"], refs["head_sha"])
    items = []
    shas = repo.git.tree_shas(refs["head_sha"])
    for f in files[:3000]:
        item: dict[str, Any] = {
            "sha": shas.get(f.path, "0" * 40),
            "filename": f.path,
            "status": f.status,
            "additions": f.additions,
            "deletions": f.deletions,
            "changes": f.additions + f.deletions,
            "blob_url": f"{forge.url}/{repo.path}/blob/{refs['head_sha']}/{f.path}",
            "raw_url": f"{forge.url}/{repo.path}/raw/{refs['head_sha']}/{f.path}",
            "contents_url": f"{forge.github_api_url}/repos/{repo.path}/contents/{f.path}",
        }
        if f.patch is not None:
            item["patch"] = f.patch
        if f.status == "renamed":
            item["previous_filename"] = f.old_path
        items.append(item)
    return paginate_github(req, items, f"{req.base_url}/repos/{repo.path}/pulls/{pr.number}/files")


@route("get", "/repos/{owner}/{repo}/contents/{path}")
def get_contents(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    ref = req.arg("ref", repo.default_branch) or repo.default_branch
    path = unquote(p["path"])
    content = repo.git.read(ref, path)
    if content is None:
        raise HttpError(404, {"message": "Not Found"})
    sha = repo.git.blob_sha(ref, path)
    large = len(content) > LARGE_FILE  # GitHub: 1-100 MB files come without content
    return Response(
        200,
        {
            "type": "file",
            "encoding": "none" if large else "base64",
            "size": len(content),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": "" if large else base64.encodebytes(content).decode(),
            "sha": sha,
            "url": f"{forge.github_api_url}/repos/{repo.path}/contents/{path}?ref={ref}",
            "git_url": f"{forge.github_api_url}/repos/{repo.path}/git/blobs/{sha}",
            "html_url": f"{forge.url}/{repo.path}/blob/{ref}/{path}",
            "download_url": f"{forge.url}/{repo.path}/raw/{ref}/{path}",
            "_links": {"self": "", "git": "", "html": ""},
        },
    )


@route("get", "/repos/{owner}/{repo}/commits/{ref}")
def get_commit(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    sha = repo.git.rev(unquote(p["ref"]))
    if sha is None:
        raise HttpError(422, {"message": f"No commit found for SHA: {p['ref']}"})
    info = repo.git.commit_info(sha)
    api = f"{forge.github_api_url}/repos/{repo.path}"
    return Response(
        200,
        {
            "sha": sha,
            "node_id": f"C_{sha}",
            "url": f"{api}/commits/{sha}",
            "html_url": f"{forge.url}/{repo.path}/commit/{sha}",
            "commit": {"message": info["message"], "tree": {"sha": info["tree"], "url": ""}},
            "parents": [{"sha": s, "url": f"{api}/commits/{s}"} for s in info["parents"]],  # type: ignore[attr-defined]
            "files": [],
        },
    )


# --- issues and comments ---------------------------------------------------------------------


@route("get", "/repos/{owner}/{repo}/issues/{issue_number}")
def get_issue(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    issue = repo.issues.get(int(p["issue_number"]))
    if issue is None:
        raise HttpError(404, {"message": "Not Found"})
    return Response(200, issue_json(forge, repo, issue))


@route("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def list_issue_comments(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    number = int(p["issue_number"])
    if number not in repo.issues:
        raise HttpError(404, {"message": "Not Found"})
    items = [n for n in repo.notes if n.number == number and n.kind == "issue"]
    url = f"{req.base_url}/repos/{repo.path}/issues/{number}/comments"
    return paginate_github(req, items, url, lambda n: note_json(forge, repo, n))


@route("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def create_issue_comment(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    number = int(p["issue_number"])
    if number not in repo.issues:
        raise HttpError(404, {"message": "Not Found"})
    note = forge.add_note(repo, number, req.login, req.json()["body"])
    return Response(201, note_json(forge, repo, note))


def _note(repo: Repo, comment_id: str, kind: str) -> Note:
    for note in repo.notes:
        if note.id == int(comment_id) and note.kind == kind:
            return note
    raise HttpError(404, {"message": "Not Found"})


@route("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def update_issue_comment(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    note = _note(repo, p["comment_id"], "issue")
    if note.author != req.login:
        raise HttpError(403, {"message": "Resource not accessible by integration"})
    note.body = req.json()["body"]
    note.updated_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Response(200, note_json(forge, repo, note))


def _reaction(forge: TestForge, req: Request, repo: Repo, note: Note) -> Response:
    content = req.json()["content"]
    for user, existing in note.reactions:
        if user == req.login and existing == content:
            status = 200
            break
    else:
        note.reactions.append((req.login, content))
        status = 201
    return Response(
        status,
        {
            "id": forge.next_id(),
            "node_id": "REA_1",
            "user": user_json(forge, req.login),
            "content": content,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )


@route("post", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def react_issue_comment(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    return _reaction(forge, req, repo, _note(repo, p["comment_id"], "issue"))


@route("post", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions")
def react_review_comment(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    return _reaction(forge, req, repo, _note(repo, p["comment_id"], "review"))


@route("get", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions")
def list_review_comment_reactions(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    note = _note(repo, p["comment_id"], "review")
    items = [
        {
            "id": index + 1,
            "node_id": f"REA_{index + 1}",
            "user": user_json(forge, login),
            "content": content,
            "created_at": note.created_at,
        }
        for index, (login, content) in enumerate(note.reactions)
    ]
    url = f"{req.base_url}/repos/{repo.path}/pulls/comments/{note.id}/reactions"
    return paginate_github(req, items, url)


# --- reviews ----------------------------------------------------------------------------------


def _check_location(forge: TestForge, repo: Repo, pr: Issue, comment: dict[str, Any]) -> str:
    """Why GitHub would reject this inline comment, or '' when it is on the diff."""
    refs = repo.diff_refs(pr)
    _, files = forge.diff(repo, refs["base_sha"], refs["head_sha"])
    target = next((f for f in files if f.path == comment.get("path")), None)
    if target is None:
        return "Path could not be resolved"
    if "line" not in comment:
        return "" if "position" in comment else "Line could not be resolved"
    if (comment.get("side") or "RIGHT") == "LEFT":
        return ""
    hunk = target.hunk_of(int(comment["line"]))
    if hunk is None:
        return "Line could not be resolved"
    if comment.get("start_line") is not None:
        if int(comment["start_line"]) >= int(comment["line"]):
            return "start_line must precede line"
        if target.hunk_of(int(comment["start_line"])) != hunk:
            return "Start line must be part of the same hunk as the line."
    return ""


def _add_review_note(
    forge: TestForge, repo: Repo, pr: Issue, c: dict[str, Any], author: str, commit: str
) -> Note:
    note = forge.add_note(repo, pr.number, author, c["body"], kind="review")
    note.path = c["path"]
    note.line = c.get("line")
    note.start_line = c.get("start_line")
    note.side = c.get("side", "RIGHT")
    note.commit_id = commit
    return note


@route("post", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
def create_review(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    pr = find_pull(forge, repo, p["pull_number"])
    data = req.json()
    commit = data.get("commit_id") or repo.diff_refs(pr)["head_sha"]
    if not repo.git.object_exists(commit):
        raise unprocessable("commit_id is not part of the pull request")
    comments = data.get("comments") or []
    for comment in comments:
        problem = _check_location(forge, repo, pr, comment)
        if problem:
            raise unprocessable(problem)
    event = data.get("event")
    if event in {"REQUEST_CHANGES", "COMMENT"} and not data.get("body") and not comments:
        raise unprocessable("Review body is required")
    state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
    review = ReviewRecord(
        forge.next_id(),
        pr.number,
        req.login,
        data.get("body", ""),
        state.get(event, "PENDING"),
        commit,
    )
    repo.reviews.append(review)
    for comment in comments:
        _add_review_note(forge, repo, pr, comment, req.login, commit).review_id = review.id
    return Response(200, review_json(forge, repo, review))


@route("get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
def list_reviews(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    pr = find_pull(forge, repo, p["pull_number"])
    items = [review_json(forge, repo, r) for r in repo.reviews if r.number == pr.number]
    return paginate_github(
        req, items, f"{req.base_url}/repos/{repo.path}/pulls/{pr.number}/reviews"
    )


@route("get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments")
def list_review_comments_of_review(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    pr = find_pull(forge, repo, p["pull_number"])
    review_id = int(p["review_id"])
    if not any(r.id == review_id and r.number == pr.number for r in repo.reviews):
        raise HttpError(404, {"message": "Not Found"})
    items = [note_json(forge, repo, n) for n in repo.notes if n.review_id == review_id]
    url = f"{req.base_url}/repos/{repo.path}/pulls/{pr.number}/reviews/{review_id}/comments"
    return paginate_github(req, items, url)


@route("get", "/repos/{owner}/{repo}/pulls/{pull_number}/comments")
def list_review_comments(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    pr = find_pull(forge, repo, p["pull_number"])
    items = [
        note_json(forge, repo, n)
        for n in repo.notes
        if n.number == pr.number and n.kind == "review"
    ]
    return paginate_github(
        req, items, f"{req.base_url}/repos/{repo.path}/pulls/{pr.number}/comments"
    )


@route("post", "/repos/{owner}/{repo}/pulls/{pull_number}/comments")
def create_review_comment(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    pr = find_pull(forge, repo, p["pull_number"])
    data = req.json()
    if "in_reply_to" in data:
        parent = _note(repo, str(data["in_reply_to"]), "review")
        return Response(
            201, note_json(forge, repo, _reply(forge, repo, parent, req.login, data["body"]))
        )
    problem = _check_location(forge, repo, pr, data)
    if problem:
        raise unprocessable(problem)
    note = _add_review_note(forge, repo, pr, data, req.login, data["commit_id"])
    return Response(201, note_json(forge, repo, note))


def _reply(forge: TestForge, repo: Repo, parent: Note, author: str, body: str) -> Note:
    root = parent.in_reply_to or parent.id
    note = forge.add_note(repo, parent.number, author, body, kind="review", thread=parent.thread)
    note.path, note.line, note.side, note.commit_id = (
        parent.path,
        parent.line,
        parent.side,
        parent.commit_id,
    )
    note.in_reply_to = root
    return note


@route("post", "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies")
def reply_review_comment(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    parent = _note(repo, p["comment_id"], "review")
    if parent.number != int(p["pull_number"]):
        raise HttpError(404, {"message": "Not Found"})
    return Response(
        201, note_json(forge, repo, _reply(forge, repo, parent, req.login, req.json()["body"]))
    )
