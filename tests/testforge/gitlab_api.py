"""GitLab REST (v4) endpoints of the test forge. Responses start from the real ones in
``corpora/gitlab/api/`` and overwrite the fields the state knows."""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.testforge.http import HttpError, Request, Response, paginate_gitlab
from tests.testforge.state import GITLAB_ACCESS, Issue, Note, Repo, Status

if TYPE_CHECKING:
    from tests.testforge.server import TestForge

Handler = Callable[["TestForge", Request, dict[str, str]], Response]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
NOTEABLE = "(?P<kind>merge_requests|issues)"
EMOJI = {"thumbsup": "+1", "thumbsdown": "-1", "tada": "hooray", "laughing": "laugh"}
STATES = {"failed": "failure", "canceled": "error", "running": "pending", "success": "success"}


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    regex = re.compile("^" + pattern.replace("{id}", "(?P<id>[^/]+)") + "$")

    def register(fn: Handler) -> Handler:
        ROUTES.append((method, regex, fn))
        return fn

    return register


def match(req: Request) -> tuple[Handler | None, dict[str, str]]:
    for method, regex, fn in ROUTES:
        if method == req.method:
            found = regex.match(req.path)
            if found:
                return fn, {k: unquote(v) for k, v in found.groupdict().items()}
    return None, {}


@functools.cache
def template(corpora: Path, name: str) -> Any:
    return json.loads((corpora / "gitlab" / "api" / name).read_text())


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def require(data: dict[str, Any], *names: str) -> None:
    """Grape answers 400 ``{"error": "x is missing"}`` for a missing required parameter."""
    missing = [n for n in names if data.get(n) in (None, "")]
    if missing:
        raise HttpError(400, {"error": ", ".join(f"{n} is missing" for n in missing)})


ALLOWED = {
    "merge_request": {
        "source_branch", "target_branch", "title", "description", "assignee_id", "assignee_ids",
        "reviewer_ids", "labels", "milestone_id", "remove_source_branch", "squash",
        "allow_collaboration", "allow_maintainer_to_push", "target_project_id", "merge_after",
    },
    "discussion": {"body", "position", "commit_id", "created_at"},
    "position": {
        "base_sha", "start_sha", "head_sha", "position_type", "new_path", "old_path", "new_line",
        "old_line", "line_range", "width", "height", "x", "y",
    },
    "line_range_end": {"line_code", "type", "old_line", "new_line"},
    "discussion_note": {"body", "created_at"},
    "note": {"body", "created_at", "confidential", "internal", "merge_request_diff_head_sha"},
    "note_update": {"body", "confidential"},
    "award_emoji": {"name"},
    "status": {"state", "ref", "name", "context", "target_url", "description", "coverage",
               "pipeline_id"},
    "commit": {
        "branch", "commit_message", "start_branch", "start_sha", "start_project", "actions",
        "author_email", "author_name", "stats", "force",
    },
    "commit_action": {
        "action", "file_path", "previous_path", "content", "encoding", "last_commit_id",
        "execute_filemode",
    },
}  # fmt: skip


def only(forge: TestForge, data: dict[str, Any], kind: str) -> None:
    """GitLab ignores parameters it does not know; a typo would pass silently, so the test
    forge records it as a violation (the test fails)."""
    unknown = set(data) - ALLOWED[kind]
    if unknown:
        forge._violations.append(f"GitLab {kind}: unknown parameters {sorted(unknown)}")


def user_json(forge: TestForge, login: str) -> dict[str, Any]:
    user = forge.user(login)
    return {
        "id": user.id,
        "username": login,
        "name": login.title(),
        "state": "active",
        "locked": False,
        "avatar_url": f"{forge.url}/uploads/{user.id}.png",
        "web_url": f"{forge.url}/{login}",
    }


def find_repo(forge: TestForge, p: dict[str, str]) -> Repo:
    key = p["id"]
    if key.isdigit():
        for repo in forge.repos.values():
            if repo.id == int(key):
                return repo
        raise HttpError(404, {"message": "404 Project Not Found"})
    if key not in forge.repos:
        raise HttpError(404, {"message": "404 Project Not Found"})
    return forge.repos[key]


def require_write(forge: TestForge, req: Request, repo: Repo) -> None:
    if not forge.can_write(req.token, repo):
        raise HttpError(403, {"message": "403 Forbidden"})


def find_mr(repo: Repo, iid: str) -> Issue:
    mr = repo.pr(int(iid))
    if mr is None:
        raise HttpError(404, {"message": "404 Not found"})
    return mr


def noteable_of(repo: Repo, p: dict[str, str]) -> Issue:
    if p["kind"] == "merge_requests":
        return find_mr(repo, p["iid"])
    issue = repo.issues.get(int(p["iid"]))
    if issue is None or issue.is_pr:
        raise HttpError(404, {"message": "404 Not found"})
    return issue


def mr_json(forge: TestForge, repo: Repo, mr: Issue) -> dict[str, Any]:
    data = copy.deepcopy(template(forge.corpora, "get_merge_request.json"))
    refs = repo.diff_refs(mr)
    state = {"open": "opened"}.get(mr.state, mr.state)
    data.update(
        id=mr.id,
        iid=mr.number,
        project_id=repo.id,
        source_project_id=forge.repos[mr.head_repo].id if mr.head_repo else repo.id,
        target_project_id=repo.id,
        title=mr.title,
        description=mr.body,
        state="merged" if mr.merged else state,
        source_branch=mr.head,
        target_branch=mr.base,
        draft=mr.draft,
        work_in_progress=mr.draft,
        author=user_json(forge, mr.author),
        assignee=None,
        assignees=[],
        reviewers=[],
        sha=refs["head_sha"],
        diff_refs=refs,
        web_url=f"{forge.url}/{repo.path}/-/merge_requests/{mr.number}",
        created_at=mr.created_at,
        user_notes_count=len([n for n in repo.notes if n.number == mr.number]),
        references={
            "short": f"!{mr.number}",
            "relative": f"!{mr.number}",
            "full": f"{repo.path}!{mr.number}",
        },
    )
    return data


def note_json(
    forge: TestForge, repo: Repo, note: Note, noteable: Issue, *, threaded: bool | None = None
) -> dict[str, Any]:
    kind = None
    if threaded is None:
        threaded = bool(note.in_reply_to is not None or note.position)
    if note.position:
        kind = "DiffNote"
    elif threaded:
        kind = "DiscussionNote"
    data: dict[str, Any] = {
        "id": note.id,
        "type": kind,
        "body": note.body,
        "attachment": None,
        "author": user_json(forge, note.author),
        "created_at": note.created_at,
        "updated_at": note.updated_at,
        "system": False,
        "noteable_id": noteable.id,
        "noteable_type": "MergeRequest" if noteable.is_pr else "Issue",
        "noteable_iid": noteable.number,
        "project_id": repo.id,
        "resolvable": kind is not None,
        "confidential": False,
        "internal": False,
        "commands_changes": {},
    }
    if note.position:
        data["position"] = note.position
        data["resolved"] = note.resolved
    return data


def discussion_json(
    forge: TestForge, repo: Repo, notes: list[Note], noteable: Issue
) -> dict[str, Any]:
    individual = len(notes) == 1 and notes[0].position is None and notes[0].in_reply_to is None
    return {
        "id": notes[0].thread,
        "individual_note": individual,
        "notes": [note_json(forge, repo, n, noteable, threaded=not individual) for n in notes],
    }


# --- merge requests, diffs, files, issues ----------------------------------------------------


@route("GET", "/projects/{id}/merge_requests/(?P<iid>\\d+)")
def get_mr(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    return Response(200, mr_json(forge, repo, find_mr(repo, p["iid"])))


@route("GET", "/projects/{id}/merge_requests")
def list_mrs(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    state = req.arg("state", "all")
    source = req.arg("source_branch")
    # GitLab's default order: created_at, newest first (sort=asc for oldest first)
    items = [
        mr_json(forge, repo, mr)
        for mr in sorted(repo.issues.values(), key=lambda i: i.number, reverse=True)
        if mr.is_pr
        and (state == "all" or {"open": "opened"}.get(mr.state, mr.state) == state)
        and (source is None or mr.head == source)
    ]
    if req.arg("sort") == "asc":
        items.reverse()
    return paginate_gitlab(req, items, f"{req.base_url}/projects/{repo.id}/merge_requests")


@route("POST", "/projects/{id}/merge_requests")
def create_mr(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    source = repo = find_repo(forge, p)
    require_write(forge, req, repo)
    data = req.json()
    require(data, "source_branch", "target_branch", "title")
    only(forge, data, "merge_request")
    head_repo = None
    target_id = data.get("target_project_id")
    if target_id is not None and int(target_id) != source.id:
        # created on the fork (the source project), opened in the project it was forked from
        repo = find_repo(forge, {"id": str(target_id)})
        if source.fork_of != repo.path:
            raise HttpError(400, {"message": ["Target project is not the fork's upstream"]})
        head_repo = source.path
    if source.git.rev(f"refs/heads/{data['source_branch']}") is None:
        raise HttpError(400, {"message": [f"Branch {data['source_branch']} does not exist"]})
    if repo.git.rev(f"refs/heads/{data['target_branch']}") is None:
        raise HttpError(400, {"message": [f"Branch {data['target_branch']} does not exist"]})
    title = data["title"]
    draft = bool(re.match(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s)", title, re.I))
    number = forge.add_pull(
        repo.path,
        head=data["source_branch"],
        base=data["target_branch"],
        title=title,
        body=data.get("description") or "",
        author=req.login,
        draft=draft,
        head_repo=head_repo,
    )
    return Response(201, mr_json(forge, repo, repo.issues[number]))


@route("GET", "/projects/{id}/merge_requests/(?P<iid>\\d+)/diffs")
def list_mr_diffs(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    mr = find_mr(repo, p["iid"])
    refs = repo.diff_refs(mr)
    _, files = forge.diff(repo, refs["base_sha"], refs["head_sha"])
    items = [
        {
            "old_path": f.old_path,
            "new_path": f.path,
            "a_mode": f.old_mode,
            "b_mode": f.new_mode,
            "diff": (f.patch + "\n") if f.patch is not None else "",
            "new_file": f.status == "added",
            "renamed_file": f.status == "renamed",
            "deleted_file": f.status == "removed",
            "generated_file": False,
            "collapsed": False,
            "too_large": False,
        }
        for f in files
    ]
    return paginate_gitlab(
        req, items, f"{req.base_url}/projects/{repo.id}/merge_requests/{mr.number}/diffs"
    )


@route("GET", "/projects/{id}/repository/files/(?P<file_path>[^/]+)/raw")
def get_raw_file(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require((req.query and {k: v[-1] for k, v in req.query.items()}) or {}, "ref")
    content = repo.git.read(req.arg("ref") or "", p["file_path"])
    if content is None:
        raise HttpError(404, {"message": "404 File Not Found"})
    return Response(200, content, {"Content-Type": "text/plain; charset=utf-8"})


@route("GET", "/projects/{id}/issues/(?P<iid>\\d+)")
def get_issue(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    issue = noteable_of(repo, {"kind": "issues", "iid": p["iid"]})
    return Response(
        200,
        {
            "id": issue.id,
            "iid": issue.number,
            "project_id": repo.id,
            "title": issue.title,
            "description": issue.body,
            "state": "opened" if issue.state == "open" else "closed",
            "discussion_locked": issue.locked,
            "author": user_json(forge, issue.author),
            "web_url": f"{forge.url}/{repo.path}/-/issues/{issue.number}",
            "created_at": issue.created_at,
            "labels": [],
        },
    )


# --- statuses, members, users ----------------------------------------------------------------


@route("POST", "/projects/{id}/statuses/(?P<sha>[0-9a-f]{40})")
def create_status(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    data = req.json()
    require(data, "state")
    only(forge, data, "status")
    if data["state"] not in {"pending", "running", "success", "failed", "canceled", "skipped"}:
        raise HttpError(400, {"error": "state does not have a valid value"})
    if not repo.git.object_exists(p["sha"]):
        raise HttpError(404, {"message": "404 Commit Not Found"})
    name = data.get("name") or data.get("context") or "default"
    status = Status(
        forge.next_id(), p["sha"], STATES.get(data["state"], data["state"]), name,
        data.get("description"), data.get("target_url"), req.login,
    )  # fmt: skip
    repo.statuses.append(status)
    return Response(
        201,
        {
            "id": status.id,
            "sha": status.sha,
            "ref": data.get("ref"),
            "status": data["state"],
            "name": name,
            "target_url": status.target_url,
            "description": status.description,
            "created_at": status.created_at,
            "started_at": None,
            "finished_at": None,
            "allow_failure": False,
            "coverage": None,
            "author": user_json(forge, req.login),
        },
    )


@route("GET", "/users")
def list_users(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    username = req.arg("username")
    items = [user_json(forge, u.login) for u in forge.users.values() if username in (None, u.login)]
    return paginate_gitlab(req, items, f"{req.base_url}/users")


@route("GET", "/projects/{id}/members/all/(?P<user_id>\\d+)")
def get_member(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    user = next((u for u in forge.users.values() if u.id == int(p["user_id"])), None)
    if user is None or repo.members.get(user.login, "none") == "none":
        raise HttpError(404, {"message": "404 Not found"})
    data = user_json(forge, user.login)
    data.update(access_level=GITLAB_ACCESS[repo.members[user.login]], expires_at=None)
    return Response(200, data)


# --- branches and commits --------------------------------------------------------------------


@route("GET", "/projects/{id}/repository/branches/(?P<branch>.+)")
def get_branch(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    sha = repo.git.rev(f"refs/heads/{p['branch']}")
    if sha is None:
        raise HttpError(404, {"message": "404 Branch Not Found"})
    return Response(
        200,
        {
            "name": p["branch"],
            "commit": _commit_json(forge, repo, sha),
            "merged": False,
            "protected": False,
            "default": p["branch"] == repo.default_branch,
        },
    )


def _commit_json(forge: TestForge, repo: Repo, sha: str) -> dict[str, Any]:
    data = copy.deepcopy(template(forge.corpora, "get_commit.json"))
    info = repo.git.commit_info(sha)
    message = str(info["message"])
    data.update(
        id=sha,
        short_id=sha[:8],
        title=message.splitlines()[0] if message else "",
        message=message,
        parent_ids=info["parents"],
        web_url=f"{forge.url}/{repo.path}/-/commit/{sha}",
        project_id=repo.id,
    )
    for key in ("stats", "last_pipeline", "status"):
        data.pop(key, None)
    return data


@route("POST", "/projects/{id}/repository/commits")
def create_commit(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    data = req.json()
    require(data, "branch", "commit_message", "actions")
    only(forge, data, "commit")
    branch = data["branch"]
    parent = repo.git.rev(f"refs/heads/{branch}")
    if data.get("force"):
        parent = None  # force: start over from start_branch
    if parent is None:
        start = data.get("start_branch") or data.get("start_sha")
        if not start or repo.git.rev(start) is None:
            raise HttpError(
                400, {"message": "You can only create or edit files when you are on a branch"}
            )
        parent = repo.git.rev(start)
    files: dict[str, bytes | None] = {}
    for action in data["actions"]:
        require(action, "action", "file_path")
        only(forge, action, "commit_action")
        path = action["file_path"]
        exists = repo.git.read(parent or "", path) is not None
        kind = action["action"]
        if kind == "create" and exists:
            raise HttpError(400, {"message": "A file with this name already exists"})
        if kind in {"update", "delete"} and not exists:
            raise HttpError(400, {"message": "A file with this name doesn't exist"})
        if kind == "delete":
            files[path] = None
        else:
            raw = action.get("content") or ""
            files[path] = (
                base64.b64decode(raw) if action.get("encoding") == "base64" else raw.encode()
            )
    if data.get("force"):
        repo.git.set_ref(f"refs/heads/{branch}", parent)
    sha = repo.git.commit_files(branch, files, data["commit_message"], start=parent)
    return Response(201, _commit_json(forge, repo, sha))


# --- the token's user, its scopes, project hooks (`assist doctor`, `assist connect`) ----------


def _who(req: Request) -> str:
    if req.token is None:
        raise HttpError(401, {"message": "401 Unauthorized"})
    return req.token.login


@route("GET", "/user")
def current_user(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    return Response(200, user_json(forge, _who(req)))


@route("GET", "/personal_access_tokens/self")
def token_self(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    _who(req)
    assert req.token is not None
    scopes = ["read_api"] if req.token.read_only else ["api"]
    return Response(
        200,
        {"id": 1, "name": "assist", "revoked": False, "active": True, "scopes": scopes,
         "expires_at": None, "user_id": forge.user(req.token.login).id},
    )  # fmt: skip


def _maintainer(forge: TestForge, req: Request, repo: Repo) -> None:
    """Project hooks need the Maintainer role (GitLab answers 403 otherwise)."""
    login = _who(req)
    if req.token is not None and req.token.read_only:
        raise HttpError(403, {"message": "403 Forbidden - insufficient_scope"})
    if repo.members.get(login, "none") not in ("maintain", "admin"):
        raise HttpError(403, {"message": "403 Forbidden"})


HOOK_FIELDS = (
    "url", "push_events", "merge_requests_events", "note_events", "issues_events",
    "enable_ssl_verification", "push_events_branch_filter",
)  # fmt: skip


def _hook_json(repo: Repo, hook: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in hook.items() if k != "token"}  # GitLab never shows the token
    return {**shown, "project_id": repo.id, "created_at": hook.get("created_at", stamp())}


@route("GET", "/projects/{id}/hooks")
def list_hooks(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    _maintainer(forge, req, repo)
    return Response(200, [_hook_json(repo, h) for h in repo.hooks])


@route("POST", "/projects/{id}/hooks")
def add_hook(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    _maintainer(forge, req, repo)
    data = req.json() or {}
    require(data, "url")
    hook: dict[str, Any] = {"id": forge.next_id(), "created_at": stamp(), "push_events": True}
    hook.update({k: data[k] for k in (*HOOK_FIELDS, "token") if k in data})
    repo.hooks.append(hook)
    return Response(201, _hook_json(repo, hook))


@route("PUT", "/projects/{id}/hooks/(?P<hook_id>\\d+)")
def edit_hook(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    _maintainer(forge, req, repo)
    hook = next((h for h in repo.hooks if h["id"] == int(p["hook_id"])), None)
    if hook is None:
        raise HttpError(404, {"message": "404 Not found"})
    data = req.json() or {}
    hook.update({k: data[k] for k in (*HOOK_FIELDS, "token") if k in data})
    return Response(200, _hook_json(repo, hook))


@route("DELETE", "/projects/{id}/hooks/(?P<hook_id>\\d+)")
def delete_hook(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    _maintainer(forge, req, repo)
    repo.hooks[:] = [h for h in repo.hooks if h["id"] != int(p["hook_id"])]
    return Response(204, None)


@route("GET", "/projects/{id}")
def get_project(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    _who(req)
    return Response(
        200,
        {"id": repo.id, "path_with_namespace": repo.path, "name": repo.path.rsplit("/", 1)[-1],
         "default_branch": repo.default_branch, "web_url": f"{forge.url}/{repo.path}"},
    )  # fmt: skip
