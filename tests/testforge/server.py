"""The test forge: one loopback HTTP server speaking GitHub's REST API (under /api/v3), GitLab's
(under /api/v4) and git's smart HTTP protocol (``git http-backend``), over shared state."""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import jwt

from tests.testforge.gitrepo import BareRepo, FilePatch
from tests.testforge.http import HttpError, Request
from tests.testforge.openapi import (
    GitHubSpec,
)
from tests.testforge.state import (
    App,
    Fault,
    Installation,
    Issue,
    Note,
    Repo,
    Token,
    User,
    now_iso,
    thread_id,
)
from tests.testforge.wire import Handler

ROOT = Path(__file__).resolve().parents[2]


def default_corpora() -> Path:
    return Path(os.environ.get("ASSIST_CORPORA", str(ROOT.parent / "shared" / "corpora")))


class TestForge:
    """A fake GitHub + GitLab with real git repositories. Use as a context manager.

    ``TestForge()`` runs in a thread of this process; ``RemoteTestForge.spawn()`` runs one in
    its own process with the same methods (see ``tests/testforge/__main__.py``).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        corpora: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl_s: float = 3600.0,
        validate: bool = True,
    ) -> None:
        self.corpora = corpora or default_corpora()
        self.host, self.port = host, port
        self.token_ttl_s = token_ttl_s
        self.validate = validate
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.repos: dict[str, Repo] = {}
        self.faults: list[Fault] = []
        self.token_requests: list[int] = []
        self.token_grants: list[dict[str, Any]] = []  # what each installation token may do
        self.hook_deliveries: list[dict[str, Any]] = []  # GitHub App webhook deliveries
        self.log: list[dict[str, Any]] = []
        self._violations: list[str] = []
        self._ids = itertools.count(1000)
        self._diffs: dict[tuple[str, str, str], tuple[str, list[FilePatch]]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: str | None = None
        self.spec: GitHubSpec | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> TestForge:
        self._tmp = tempfile.mkdtemp(prefix="testforge-")
        if self.validate:
            self.spec = GitHubSpec.load(self.corpora / "github" / "rest-openapi.json")
        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        server.forge = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> TestForge:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def github_api_url(self) -> str:
        return f"{self.url}/api/v3"

    @property
    def gitlab_url(self) -> str:
        return self.url

    # --- setup -----------------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def start_ids_at(self, start: int) -> None:
        """Number what is created from now on from ``start``: tests that share a database
        and Redis across test forges keep their comment ids (and so job ids) apart."""
        with self.lock:
            self._ids = itertools.count(start)

    def add_user(self, login: str, *, token: str | None = None, read_only: bool = False) -> str:
        with self.lock:
            if login not in self.users:
                self.users[login] = User(login, self.next_id(), read_only)
            value = token or f"tok_{secrets.token_hex(12)}"
            self.tokens[value] = Token(value, login, read_only=read_only)
            return value

    def user(self, login: str) -> User:
        if login not in self.users:
            self.users[login] = User(login, self.next_id())
        return self.users[login]

    def add_app(self, app_id: int, public_key_pem: str, *, slug: str = "forge-assist") -> None:
        self.apps[app_id] = App(app_id, public_key_pem, slug)
        self.user(f"{slug}[bot]")

    def add_installation(self, app_id: int, repos: list[str]) -> int:
        installation = Installation(self.next_id(), app_id, list(repos))
        self.installations[installation.id] = installation
        return installation.id

    def revoke_tokens(self) -> None:
        """Invalidate every installation token (the next call with one gets 401)."""
        with self.lock:
            for value in [v for v, t in self.tokens.items() if t.installation is not None]:
                del self.tokens[value]

    def create_repo(
        self,
        path: str,
        *,
        source: str | Path | None = None,
        files: Mapping[str, str | bytes] | None = None,
        default_branch: str = "main",
        members: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A bare repository at ``path`` from a local git directory and/or initial files."""
        assert self._tmp, "start the forge first"
        with self.lock:
            git = BareRepo.init(
                Path(self._tmp) / "git" / f"{path}.git", default_branch=default_branch
            )
            if source is not None:
                git.import_from(Path(source))
            if files:
                git.commit_files(default_branch, _bytes(files), "Initial commit")
            repo = Repo(self.next_id(), path, git, default_branch, dict(members or {}))
            self.repos[path] = repo
            self.user(path.split("/")[0])
            for login in repo.members:
                self.user(login)
            return {"id": repo.id, "path": path, "clone_url": f"{self.url}/{path}.git"}

    def fork(self, source: str, path: str) -> dict[str, Any]:
        """A fork of ``source`` at ``path`` (its branches copied); changes opened from it into
        ``source`` keep their branch in the fork."""
        with self.lock:
            base = self.repo(source)
            created = self.create_repo(path, default_branch=base.default_branch)
            fork = self.repos[path]
            fork.fork_of = source
            fork.git.git("fetch", "-q", str(base.git.path), "+refs/heads/*:refs/heads/*")
            return created

    def sync_forks(self, path: str) -> None:
        """After a push into ``path``: the changes opened from it see their new heads."""
        with self.lock:
            for repo in self.repos.values():
                for issue in repo.issues.values():
                    if issue.head_repo == path and issue.state == "open":
                        self.copy_fork_head(repo, issue)

    def copy_fork_head(self, repo: Repo, issue: Issue) -> None:
        assert issue.head_repo is not None
        fork = self.repo(issue.head_repo)
        repo.git.git(
            "fetch", "-q", str(fork.git.path),
            f"+refs/heads/{issue.head}:refs/pull/{issue.number}/head",
        )  # fmt: skip

    def commit(
        self,
        repo: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str = "Change",
        *,
        start: str | None = None,
    ) -> str:
        with self.lock:
            r = self.repo(repo)
            return r.git.commit_files(
                branch, _bytes(files), message, start=start or r.default_branch
            )

    def add_pull(
        self,
        repo: str,
        *,
        head: str,
        base: str | None = None,
        title: str = "A change",
        body: str = "",
        author: str = "alice",
        draft: bool = False,
        head_repo: str | None = None,
    ) -> int:
        with self.lock:
            r = self.repo(repo)
            number = next(r.next_number)
            r.issues[number] = Issue(
                number, title, body, author, is_pr=True, base=base or r.default_branch,
                head=head, draft=draft, id=self.next_id(), head_repo=head_repo,
            )  # fmt: skip
            if head_repo is not None:
                self.copy_fork_head(r, r.issues[number])
            self.user(author)
            return number

    def close(self, repo: str, number: int, *, merged: bool = False) -> None:
        """Close an issue or a pull request (``merged`` for a merged one)."""
        with self.lock:
            issue = self.repo(repo).issues[number]
            issue.state = "merged" if merged and issue.is_pr else "closed"
            issue.merged = merged and issue.is_pr
            issue.merged_at = now_iso() if issue.merged else None

    def add_issue(self, repo: str, title: str, body: str = "", *, author: str = "alice") -> int:
        with self.lock:
            r = self.repo(repo)
            number = next(r.next_number)
            r.issues[number] = Issue(number, title, body, author, id=self.next_id())
            self.user(author)
            return number

    def add_note(
        self,
        repo: Repo,
        number: int,
        author: str,
        body: str,
        *,
        kind: str = "issue",
        thread: str | None = None,
    ) -> Note:
        note_id = self.next_id()
        note = Note(
            note_id, number, author, body, kind, thread or thread_id(f"{repo.path}:{note_id}")
        )
        repo.notes.append(note)
        self.user(author)
        return note

    def add_comment(
        self,
        repo: str,
        number: int,
        body: str,
        *,
        author: str = "alice",
        path: str | None = None,
        line: int | None = None,
    ) -> int:
        """A conversation comment, or an inline one when ``path`` and ``line`` are given."""
        with self.lock:
            r = self.repo(repo)
            note = self.add_note(r, number, author, body, kind="review" if path else "issue")
            if path:
                refs = r.diff_refs(r.issues[number])
                note.path, note.line, note.side = path, line, "RIGHT"
                note.commit_id = refs["head_sha"]
                note.position = {
                    **refs, "position_type": "text", "old_path": path, "new_path": path,
                    "new_line": line, "old_line": None,
                }  # fmt: skip
            return note.id

    def add_comments(
        self, repo: str, number: int, bodies: list[str], *, author: str = "alice"
    ) -> int:
        with self.lock:
            r = self.repo(repo)
            for body in bodies:
                self.add_note(r, number, author, body)
            return len(bodies)

    def react(self, repo: str, comment_id: int, login: str, content: str) -> None:
        """``login`` reacts to a comment (GitHub reaction content, e.g. ``+1``; GitLab award
        emoji are mapped from these)."""
        with self.lock:
            note = self._find(repo, comment_id)
            if (login, content) not in note.reactions:
                note.reactions.append((login, content))
            self.user(login)

    def reply(self, repo: str, comment_id: int, body: str, *, author: str = "alice") -> int:
        """A reply in the thread of an inline comment (a GitLab discussion note)."""
        with self.lock:
            r = self.repo(repo)
            parent = self._find(repo, comment_id)
            note = self.add_note(r, parent.number, author, body, kind=parent.kind,
                                 thread=parent.thread)  # fmt: skip
            note.path, note.line, note.side, note.commit_id = (
                parent.path, parent.line, parent.side, parent.commit_id,
            )  # fmt: skip
            note.in_reply_to = parent.in_reply_to or parent.id
            return note.id

    def resolve(self, repo: str, comment_id: int, resolved: bool = True) -> None:
        """Resolve (or unresolve) the thread that ``comment_id`` starts."""
        with self.lock:
            self._find(repo, comment_id).resolved = resolved

    def _find(self, repo: str, comment_id: int) -> Note:
        for note in self.repo(repo).notes:
            if note.id == comment_id:
                return note
        raise HttpError(404, {"message": "Not Found"})

    def set_permission(self, repo: str, login: str, role: str) -> None:
        """``role``: none, read, triage, write, maintain or admin."""
        with self.lock:
            self.repo(repo).members[login] = role
            self.user(login)

    def inject(self, fault: Fault | dict[str, Any]) -> None:
        with self.lock:
            self.faults.append(fault if isinstance(fault, Fault) else Fault(**fault))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # --- inspection (plain JSON-able values, the same in-process and over RPC) --------------

    def repo(self, path: str) -> Repo:
        repo = self.repos.get(path)
        if repo is None:
            raise HttpError(404, {"message": "Not Found"})
        return repo

    def pull(self, repo: str, number: int) -> dict[str, Any]:
        with self.lock:
            r = self.repo(repo)
            issue = r.issues[number]
            data = asdict(issue)
            if issue.is_pr:
                data.update(r.diff_refs(issue))
            return data

    def pulls(self, repo: str) -> list[dict[str, Any]]:
        with self.lock:
            return [self.pull(repo, n) for n, i in self.repo(repo).issues.items() if i.is_pr]

    def issues(self, repo: str) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(i) for i in self.repo(repo).issues.values() if not i.is_pr]

    def comments(self, repo: str, number: int, kind: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                asdict(n)
                for n in self.repo(repo).notes
                if n.number == number and (kind is None or n.kind == kind)
            ]

    def discussions(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self.lock:
            threads: dict[str, list[dict[str, Any]]] = {}
            for note in self.comments(repo, number):
                threads.setdefault(note["thread"], []).append(note)
            return [{"id": key, "notes": notes} for key, notes in threads.items()]

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(r) for r in self.repo(repo).reviews if r.number == number]

    def statuses(self, repo: str, sha: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(s) for s in self.repo(repo).statuses if sha is None or s.sha == sha]

    def refs(self, repo: str) -> dict[str, str]:
        with self.lock:
            return self.repo(repo).git.branches()

    def read(self, repo: str, ref: str, path: str) -> str | None:
        with self.lock:
            content = self.repo(repo).git.read(ref, path)
            return None if content is None else content.decode(errors="replace")

    def token_request_count(self, installation: int | None = None) -> int:
        with self.lock:
            return len([i for i in self.token_requests if installation in (None, i)])

    def installation_token_grants(self) -> list[dict[str, Any]]:
        """Each installation token's repositories and permissions (None: the installation's)."""
        with self.lock:
            return [dict(grant) for grant in self.token_grants]

    def requests_log(self, api: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.log if api in (None, r["api"])]

    def violations(self) -> list[str]:
        """Requests that did not match GitHub's REST description (the test should fail)."""
        with self.lock:
            return list(self._violations)

    # --- helpers for the API modules --------------------------------------------------------

    def diff(self, repo: Repo, base: str, head: str) -> tuple[str, list[FilePatch]]:
        key = (repo.path, base, head)
        if key not in self._diffs:
            self._diffs[key] = repo.git.diff(base, head)
        return self._diffs[key]

    def can_write(self, token: Token | None, repo: Repo) -> bool:
        if token is None or token.read_only:
            return False
        if token.installation is not None:
            return repo.path in self.installations[token.installation].repos and (
                token.repos is None or repo.path in token.repos
            )
        return repo.members.get(token.login, "write") in {"write", "maintain", "admin"}

    def app_from_jwt(self, req: Request) -> App:
        raw = req.headers.get("authorization", "").split(" ", 1)[-1]
        try:
            claims = jwt.decode(raw, options={"verify_signature": False})
            app = self.apps[int(claims["iss"])]
            jwt.decode(raw, app.public_key, algorithms=["RS256"])
        except (jwt.PyJWTError, KeyError, ValueError) as error:
            raise HttpError(
                401, {"message": f"A JSON web token could not be decoded: {error}"}
            ) from None
        return app

    def _token(self, req_headers: dict[str, str]) -> Token | None:
        value = req_headers.get("private-token")
        auth = req_headers.get("authorization", "")
        if not value and " " in auth:
            value = auth.split(" ", 1)[1].strip()
        token = self.tokens.get(value or "")
        if token and token.expires_at is not None and token.expires_at < time.time():
            return None
        return token

    def _take_fault(self, api: str, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.hits >= fault.times:
                    continue
                if fault.api not in (None, api) or fault.method not in (None, method.upper()):
                    continue
                if fault.path is not None and not re.search(fault.path, path):
                    continue
                fault.hits += 1
                return fault
        return None


def _bytes(files: Mapping[str, Any]) -> dict[str, bytes | None]:
    return {k: (v.encode() if isinstance(v, str) else v) for k, v in files.items()}
