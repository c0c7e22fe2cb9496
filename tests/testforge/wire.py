"""The test forge on the wire: routing a request to an API, faults, auth, the git CGI."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

# the API modules register their routes on import
from tests.testforge import github_api, github_git, gitlab_api, gitlab_notes  # noqa: F401
from tests.testforge.github_common import ROUTES as GITHUB_ROUTES
from tests.testforge.github_scopes import check_api_scope, check_git_scope
from tests.testforge.http import HttpError, Request, Response
from tests.testforge.openapi import SpecViolation, complete_response, validate_response

if TYPE_CHECKING:
    from tests.testforge.server import TestForge

RPC_METHODS = {
    "create_repo", "commit", "add_pull", "close", "add_issue", "add_comment", "add_comments",
    "add_user", "set_permission", "add_app", "add_installation", "inject", "clear_faults",
    "revoke_tokens", "react", "reply", "resolve", "fork",
    "pull", "pulls", "issues", "comments", "discussions", "reviews", "statuses", "refs",
    "read", "token_request_count", "installation_token_grants", "requests_log", "violations",
}  # fmt: skip


def handle(forge: TestForge, h: Handler) -> None:
    method = h.command
    path, _, qs = h.path.partition("?")
    query = parse_qs(qs, keep_blank_values=True)
    headers = {k.lower(): v for k, v in h.headers.items()}
    body = _read_body(h)
    if path.startswith("/api/v3/") or path == "/api/v3":
        api, prefix = "github", "/api/v3"
    elif path.startswith("/api/v4/"):
        api, prefix = "gitlab", "/api/v4"
    elif path == "/_testforge/rpc":
        api, prefix = "rpc", ""
    else:
        api, prefix = "git", ""
    entry: dict[str, Any] = {"api": api, "method": method, "path": path, "query": qs}
    fault = forge._take_fault(api, method, path) if api != "rpc" else None
    if fault and fault.delay_s:
        time.sleep(fault.delay_s)
        if forge._server is None:  # stopped meanwhile
            return
    if fault and fault.status:
        response = Response(fault.status, fault.body or {"message": "fault"}, dict(fault.headers))
    elif api == "git":
        response = _git(forge, method, path, qs, headers, body)
    elif api == "rpc":
        response = _rpc(forge, body)
    else:
        req = Request(method, path[len(prefix) :], query, headers, body, f"{forge.url}{prefix}")
        response = _api(forge, api, req, entry)
    entry["status"] = response.status
    if api != "rpc":
        with forge.lock:
            forge.log.append(entry)
    _send(h, response)


def _api(forge: TestForge, api: str, req: Request, entry: dict[str, Any]) -> Response:
    try:
        if api == "github":
            handler, params = _github_route(forge, req, entry)
        else:
            handler, params = gitlab_api.match(req)
        if handler is None:
            return Response(
                404,
                {"message": "Not Found"} if api == "github" else {"message": "404 Not Found"},
            )
        is_app_route = api == "github" and (
            req.path == "/app" or req.path.startswith("/app/") or req.path.endswith("/installation")
        )
        if not is_app_route:
            req.token = forge._token(req.headers)
            if req.token is None:
                return Response(
                    401,
                    {"message": "Bad credentials"}
                    if api == "github"
                    else {"message": "401 Unauthorized"},
                )
            if api == "github":
                check_api_scope(req.method, req.path, req.token)
        with forge.lock:
            response = handler(forge, req, params)
    except HttpError as error:
        return error.response
    if api == "github" and forge.spec is not None and "template" in entry:
        _check_response(forge, req, entry, response)
    return response


def _github_route(
    forge: TestForge, req: Request, entry: dict[str, Any]
) -> tuple[Any, dict[str, str]]:
    method = req.method.lower()
    if forge.spec is not None:
        try:
            op = forge.spec.validate(method, req.path, req.query, req.body)
        except SpecViolation as violation:
            message = f"{req.method} {req.path}: {violation}"
            forge._violations.append(message)
            raise HttpError(400, {"message": f"testforge: invalid request: {message}"}) from None
        entry["template"] = op.template
        template = op.template
        params = dict(op.regex.match(req.path).groupdict().items())  # type: ignore[union-attr]
    else:
        template, params = _match_templates(method, req.path)
    return GITHUB_ROUTES.get((method, template)), params


def _check_response(
    forge: TestForge, req: Request, entry: dict[str, Any], response: Response
) -> None:
    assert forge.spec is not None
    if isinstance(response.body, str | bytes):
        return
    op, _ = forge.spec.match(req.method.lower(), req.path)
    response.body = complete_response(forge.spec, op, response.status, response.body)
    try:
        validate_response(forge.spec, op, response.status, response.body)
    except SpecViolation as violation:
        forge._violations.append(f"response to {req.method} {req.path}: {violation}")


def _rpc(forge: TestForge, body: bytes) -> Response:
    call = json.loads(body)
    name = call["method"]
    if name not in RPC_METHODS:
        return Response(400, {"error": f"no such method {name}"})
    try:
        result = getattr(forge, name)(*call.get("args", []), **call.get("kwargs", {}))
    except HttpError as error:
        return Response(error.response.status, {"error": str(error)})
    return Response(200, {"result": result})


def _git(
    forge: TestForge, method: str, path: str, qs: str, headers: dict[str, str], body: bytes
) -> Response:
    challenge = {"WWW-Authenticate": 'Basic realm="testforge"'}
    token = None
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        import base64

        _, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        token = forge.tokens.get(password)
        if token and token.expires_at is not None and token.expires_at < time.time():
            token = None
    if token is None:
        return Response(401, "Authentication required\n", challenge)
    match = re.match(r"^/(.+?\.git)(/.*)$", unquote(path))
    if not match or match.group(1)[:-4] not in forge.repos:
        return Response(404, "Repository not found\n")
    repo = forge.repos[match.group(1)[:-4]]
    push = "git-receive-pack" in path + qs
    refused = check_git_scope(repo.path, token, push=push)
    if refused is not None:
        return refused
    if push and not forge.can_write(token, repo):
        return Response(403, "Write access denied\n")
    assert forge._tmp
    env = {
        **os.environ,
        "GIT_PROJECT_ROOT": str(Path(forge._tmp) / "git"),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": unquote(path),
        "REQUEST_METHOD": method,
        "QUERY_STRING": qs,
        "CONTENT_TYPE": headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": token.login,
        "REMOTE_ADDR": "127.0.0.1",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if "content-encoding" in headers:
        env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
    if "git-protocol" in headers:
        env["GIT_PROTOCOL"] = headers["git-protocol"]
    result = subprocess.run(
        ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
    )
    if push and repo.fork_of is not None:
        forge.sync_forks(repo.path)
    head, _, payload = result.stdout.partition(b"\r\n\r\n")
    status = 200
    out_headers: dict[str, str] = {}
    for line in head.decode(errors="replace").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            out_headers[name.strip()] = value.strip()
    out_headers.setdefault("Content-Type", "application/octet-stream")
    return Response(status, payload, out_headers)


def _match_templates(method: str, path: str) -> tuple[str, dict[str, str]]:
    for (m, template), _ in GITHUB_ROUTES.items():
        if m != method:
            continue
        pattern = re.sub(
            r"\\\{([^}]+)\\\}",
            lambda g: f"(?P<{g.group(1)}>{'.+' if g.group(1) in {'path', 'ref'} else '[^/]+'})",
            re.escape(template),
        )
        found = re.match(f"^{pattern}$", path)
        if found:
            return template, found.groupdict()
    return "", {}


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(h.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                h.rfile.readline()
                break
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
        return b"".join(chunks)
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""


def _send(h: BaseHTTPRequestHandler, response: Response) -> None:
    payload, content_type = response.encode()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        h.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() != "content-type":
                h.send_header(name, value)
        h.send_header("Content-Type", response.headers.get("Content-Type", content_type))
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def _dispatch(self) -> None:
        forge = self.server.forge  # type: ignore[attr-defined]
        try:
            handle(forge, self)
        except Exception:  # a bug in the test forge: fail the test, answer 500
            forge._violations.append(
                f"test forge error on {self.command} {self.path}:\n{traceback.format_exc()}"
            )
            _send(self, Response(500, {"message": "test forge error"}))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass
