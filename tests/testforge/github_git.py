"""GitHub REST endpoints of the test forge: apps, statuses, check runs, permissions, git data."""

from __future__ import annotations

import base64
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.testforge.github_common import (
    find_repo,
    require_write,
    route,
    unprocessable,
    user_json,
)
from tests.testforge.http import HttpError, Request, Response
from tests.testforge.state import Repo, Status, Token

if TYPE_CHECKING:
    from tests.testforge.server import TestForge

# --- apps ------------------------------------------------------------------------------------


@route("post", "/app/installations/{installation_id}/access_tokens")
def create_installation_token(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    """As GitHub: ``repositories`` (names) / ``repository_ids`` narrow the token to some of the
    installation's repositories, ``permissions`` to some of its permissions; asking for more
    than the installation has is a 422."""
    app = forge.app_from_jwt(req)
    installation = forge.installations.get(int(p["installation_id"]))
    if installation is None or installation.app_id != app.id:
        raise HttpError(404, {"message": "Not Found"})
    data = req.json() if req.body else {}
    repos = scoped_repos(forge, installation.repos, data)
    permissions = data.get("permissions")
    if permissions is not None:
        for name, level in permissions.items():
            granted = installation.permissions.get(name)
            if granted is None or PERMISSION_LEVELS[level] > PERMISSION_LEVELS[granted]:
                raise HttpError(
                    422, {"message": "The permissions requested are not granted to this app."}
                )
    value = "ghs_" + secrets.token_hex(18)
    expires = time.time() + forge.token_ttl_s
    forge.tokens[value] = Token(
        value, f"{app.slug}[bot]", installation.id, expires, repos=repos,
        permissions=dict(permissions) if permissions is not None else None,
    )  # fmt: skip
    forge.token_requests.append(installation.id)
    forge.token_grants.append(
        {"installation": installation.id, "repos": repos, "permissions": permissions}
    )
    stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Response(
        201,
        {
            "token": value,
            "expires_at": stamp,
            "permissions": dict(permissions or installation.permissions),
            "repository_selection": "all" if repos is None else "selected",
        },
    )


PERMISSION_LEVELS = {"read": 1, "write": 2, "admin": 3}


def scoped_repos(forge: TestForge, granted: list[str], data: dict[str, Any]) -> list[str] | None:
    names, ids = data.get("repositories"), data.get("repository_ids")
    if names is None and ids is None:
        return None
    chosen: list[str] = []
    for name in names or []:
        match = [path for path in granted if path.rpartition("/")[2] == name]
        if not match:
            raise HttpError(422, {"message": NOT_ACCESSIBLE})
        chosen += match
    for repo_id in ids or []:
        match = [
            path for path in granted if path in forge.repos and forge.repos[path].id == repo_id
        ]
        if not match:
            raise HttpError(422, {"message": NOT_ACCESSIBLE})
        chosen += match
    return sorted(set(chosen))


NOT_ACCESSIBLE = (
    "There is at least one repository that does not exist or is not accessible to the parent "
    "installation."
)


@route("get", "/repos/{owner}/{repo}/installation")
def get_repo_installation(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    app = forge.app_from_jwt(req)
    repo = find_repo(forge, p)
    for installation in forge.installations.values():
        if installation.app_id == app.id and repo.path in installation.repos:
            return Response(
                200,
                {
                    "id": installation.id,
                    "app_id": app.id,
                    "app_slug": app.slug,
                    "target_type": "Organization",
                    "account": user_json(forge, repo.path.split("/")[0]),
                    "permissions": {},
                    "events": [],
                    "access_tokens_url": f"{forge.github_api_url}/app/installations/"
                    f"{installation.id}/access_tokens",
                    "repositories_url": f"{forge.github_api_url}/installation/repositories",
                    "html_url": "",
                    "created_at": "2024-01-01T00:00:00Z",
                    "updated_at": "2024-01-01T00:00:00Z",
                    "single_file_name": None,
                    "repository_selection": "selected",
                },
            )
    raise HttpError(404, {"message": "Not Found"})


# --- statuses, permissions -------------------------------------------------------------------


@route("post", "/repos/{owner}/{repo}/statuses/{sha}")
def create_status(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    if not repo.git.object_exists(p["sha"]):
        raise unprocessable("No commit found for SHA")
    data = req.json()
    status = Status(
        forge.next_id(),
        p["sha"],
        data["state"],
        data.get("context", "default"),
        data.get("description"),
        data.get("target_url"),
        req.login,
    )
    repo.statuses.append(status)
    return Response(
        201,
        {
            "id": status.id,
            "node_id": f"SC_{status.id}",
            "state": status.state,
            "context": status.context,
            "description": status.description,
            "target_url": status.target_url,
            "url": f"{forge.github_api_url}/repos/{repo.path}/statuses/{status.sha}",
            "avatar_url": None,
            "creator": user_json(forge, req.login),
            "created_at": status.created_at,
            "updated_at": status.created_at,
        },
    )


@route("post", "/repos/{owner}/{repo}/check-runs")
def create_check_run(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    if req.token is None or req.token.installation is None:
        raise HttpError(403, {"message": "You must authenticate via a GitHub App."})
    require_write(forge, req, repo)
    data = req.json()
    if not repo.git.object_exists(data["head_sha"]):
        raise unprocessable("No commit found for SHA")
    run_status = data.get("status", "queued")
    conclusion = data.get("conclusion")
    if run_status == "completed" and not conclusion:
        raise unprocessable("conclusion is required when status is completed")
    state = "pending" if run_status != "completed" else conclusion
    output = data.get("output") or {}
    status = Status(
        forge.next_id(),
        data["head_sha"],
        state,
        data["name"],
        output.get("summary"),
        data.get("details_url"),
        req.login,
    )
    repo.statuses.append(status)
    return Response(
        201,
        {
            "id": status.id,
            "head_sha": status.sha,
            "node_id": f"CR_{status.id}",
            "name": status.context,
            "status": run_status,
            "conclusion": conclusion,
            "details_url": status.target_url,
            "url": f"{forge.github_api_url}/repos/{repo.path}/check-runs/{status.id}",
            "html_url": f"{forge.url}/{repo.path}/runs/{status.id}",
            "started_at": status.created_at,
            "completed_at": status.created_at if run_status == "completed" else None,
            "output": {
                "title": output.get("title"),
                "summary": output.get("summary"),
                "text": None,
                "annotations_count": 0,
                "annotations_url": "",
            },
            "pull_requests": [],
        },
    )


@route("get", "/repos/{owner}/{repo}/collaborators/{username}/permission")
def get_permission(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    login = unquote(p["username"])
    if login not in forge.users:
        raise HttpError(404, {"message": "Not Found"})
    role = repo.members.get(login, "none")
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    return Response(
        200,
        {"permission": legacy, "role_name": role, "user": user_json(forge, login)},
    )


# --- git data ---------------------------------------------------------------------------------


def _ref_json(forge: TestForge, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "node_id": "REF_1",
        "url": f"{forge.github_api_url}/repos/{repo.path}/git/{ref}",
        "object": {"type": "commit", "sha": sha, "url": ""},
    }


@route("get", "/repos/{owner}/{repo}/git/ref/{ref}")
def get_ref(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    ref = "refs/" + unquote(p["ref"])
    sha = repo.git.rev(ref)
    if sha is None:
        raise HttpError(404, {"message": "Not Found"})
    return Response(200, _ref_json(forge, repo, ref, sha))


@route("post", "/repos/{owner}/{repo}/git/refs")
def create_ref(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    data = req.json()
    if not data["ref"].startswith("refs/") or data["ref"].count("/") < 2:
        raise unprocessable("Reference name is not valid")
    if repo.git.rev(data["ref"]) is not None:
        raise unprocessable("Reference already exists")
    if not repo.git.object_exists(data["sha"]):
        raise unprocessable("Object does not exist")
    repo.git.set_ref(data["ref"], data["sha"])
    return Response(201, _ref_json(forge, repo, data["ref"], data["sha"]))


@route("patch", "/repos/{owner}/{repo}/git/refs/{ref}")
def update_ref(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    ref = "refs/" + unquote(p["ref"])
    data = req.json()
    old = repo.git.rev(ref)
    if old is None:
        raise unprocessable("Reference does not exist")
    if not data.get("force") and repo.git.merge_base(old, data["sha"]) != old:
        raise unprocessable("Update is not a fast forward")
    repo.git.set_ref(ref, data["sha"])
    return Response(200, _ref_json(forge, repo, ref, data["sha"]))


@route("get", "/repos/{owner}/{repo}/git/commits/{commit_sha}")
def get_git_commit(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    if not repo.git.object_exists(p["commit_sha"]):
        raise HttpError(404, {"message": "Not Found"})
    return Response(200, _commit_json(forge, repo, p["commit_sha"]))


def _commit_json(forge: TestForge, repo: Repo, sha: str) -> dict[str, Any]:
    info = repo.git.commit_info(sha)
    api = f"{forge.github_api_url}/repos/{repo.path}/git"
    person = {"name": "Test Forge", "email": "forge@example.test", "date": "2024-01-01T00:00:00Z"}
    return {
        "sha": sha,
        "node_id": f"C_{sha}",
        "url": f"{api}/commits/{sha}",
        "html_url": f"{forge.url}/{repo.path}/commit/{sha}",
        "message": info["message"],
        "author": person,
        "committer": person,
        "tree": {"sha": info["tree"], "url": f"{api}/trees/{info['tree']}"},
        "parents": [
            {"sha": s, "url": f"{api}/commits/{s}", "html_url": ""} for s in info["parents"]
        ],  # type: ignore[attr-defined]
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
        },
    }


@route("get", "/repos/{owner}/{repo}/git/blobs/{file_sha}")
def get_blob(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    try:
        content = repo.git.git("cat-file", "blob", p["file_sha"])
    except Exception:
        raise HttpError(404, {"message": "Not Found"}) from None
    return Response(
        200,
        {
            "sha": p["file_sha"],
            "node_id": f"B_{p['file_sha']}",
            "size": len(content),
            "url": f"{forge.github_api_url}/repos/{repo.path}/git/blobs/{p['file_sha']}",
            "content": base64.encodebytes(content).decode(),
            "encoding": "base64",
        },
    )


@route("post", "/repos/{owner}/{repo}/git/blobs")
def create_blob(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    data = req.json()
    raw = data["content"]
    content = base64.b64decode(raw) if data.get("encoding") == "base64" else raw.encode()
    sha = repo.git.hash_blob(content)
    return Response(
        201, {"sha": sha, "url": f"{forge.github_api_url}/repos/{repo.path}/git/blobs/{sha}"}
    )


@route("post", "/repos/{owner}/{repo}/git/trees")
def create_tree(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    data = req.json()
    entries: dict[str, str | None] = {}
    for item in data["tree"]:
        if item.get("content") is not None:
            entries[item["path"]] = repo.git.hash_blob(item["content"].encode())
        else:
            entries[item["path"]] = item.get("sha")
    sha = repo.git.write_tree(data.get("base_tree"), entries)
    return Response(
        201,
        {
            "sha": sha,
            "url": f"{forge.github_api_url}/repos/{repo.path}/git/trees/{sha}",
            "tree": [],
            "truncated": False,
        },
    )


@route("post", "/repos/{owner}/{repo}/git/commits")
def create_git_commit(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    data = req.json()
    sha = repo.git.commit_tree(data["tree"], list(data.get("parents") or []), data["message"])
    return Response(201, _commit_json(forge, repo, sha))


# --- the App and the token's user (what `assist doctor` reads) --------------------------------


@route("get", "/user")
def get_authenticated_user(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    if req.token is None:
        raise HttpError(401, {"message": "Requires authentication"})
    data = {**user_json(forge, req.token.login), "user_view_type": "private"}
    return Response(200, data, headers={"X-OAuth-Scopes": "repo"})


@route("get", "/app")
def get_app(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    app = forge.app_from_jwt(req)
    return Response(
        200,
        {
            "id": app.id,
            "slug": app.slug,
            "name": app.slug,
            "owner": user_json(forge, "octo"),
            "html_url": f"{forge.url}/apps/{app.slug}",
            "permissions": {},
            "events": ["pull_request", "issue_comment", "push"],
        },
    )


@route("get", "/app/installations")
def list_app_installations(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    app = forge.app_from_jwt(req)
    return Response(
        200,
        [
            {"id": i.id, "app_id": app.id, "permissions": dict(i.permissions), "events": []}
            for i in forge.installations.values()
            if i.app_id == app.id
        ],
    )


@route("get", "/app/hook/deliveries")
def list_hook_deliveries(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    forge.app_from_jwt(req)
    return Response(200, list(reversed(forge.hook_deliveries)))
