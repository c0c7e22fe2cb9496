"""Bare git repositories of the test forge, driven with git plumbing."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ZERO = "0" * 40
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Forge",
    "GIT_AUTHOR_EMAIL": "forge@example.test",
    "GIT_COMMITTER_NAME": "Test Forge",
    "GIT_COMMITTER_EMAIL": "forge@example.test",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class FilePatch:
    path: str
    old_path: str
    status: str  # added | modified | removed | renamed
    header: str
    patch: str | None  # hunks only; None for binary
    additions: int = 0
    deletions: int = 0
    hunks: list[tuple[int, int]] = field(default_factory=list)  # new-side ranges [start, end]
    old_mode: str = "100644"
    new_mode: str = "100644"

    def old_line_at(self, new_line: int) -> int | None:
        """GitLab's ``old_pos`` for a new-side line (its diff parser: the old-line counter when
        the line is reached, so the next old line for an addition)."""
        old = new = 0
        for line in (self.patch or "").splitlines():
            hunk = HUNK.match(line)
            if hunk:
                old, new = int(hunk.group(1)), int(hunk.group(3))
                continue
            if line.startswith("-"):
                old += 1
                continue
            if line.startswith("\\"):
                continue
            if new == new_line:
                return old
            new += 1
            if not line.startswith("+"):
                old += 1
        return None

    def hunk_of(self, line: int) -> int | None:
        for index, (start, end) in enumerate(self.hunks):
            if start <= line <= end:
                return index
        return None


class BareRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def git(
        self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None
    ) -> bytes:
        full_env = {**os.environ, **GIT_ENV, **(env or {})}
        result = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=self.path,
            input=input,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if result.returncode != 0:
            raise GitError(result.stderr.decode(errors="replace").strip())
        return result.stdout

    @classmethod
    def init(cls, path: Path, *, default_branch: str = "main") -> BareRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "--bare", "-q", f"--initial-branch={default_branch}")
        repo.git("config", "http.receivepack", "true")
        return repo

    def import_from(self, source: Path) -> None:
        """Push every branch and tag of a local repository here."""
        subprocess.run(
            ["git", "push", "-q", "--all", str(self.path)],
            cwd=source,
            check=True,
            env={**os.environ, **GIT_ENV},
        )
        subprocess.run(
            ["git", "push", "-q", "--tags", str(self.path)],
            cwd=source,
            check=True,
            env={**os.environ, **GIT_ENV},
        )

    def rev(self, ref: str) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}").decode().strip()
        except GitError:
            return None

    def object_exists(self, sha: str) -> bool:
        try:
            self.git("cat-file", "-e", sha)
        except GitError:
            return False
        return True

    def branches(self) -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
        return {
            line.split()[0].removeprefix("refs/heads/"): line.split()[1]
            for line in out.decode().splitlines()
        }

    def set_ref(self, ref: str, sha: str | None) -> None:
        if sha is None:
            self.git("update-ref", "-d", ref)
        else:
            self.git("update-ref", ref, sha)

    def merge_base(self, a: str, b: str) -> str:
        return self.git("merge-base", a, b).decode().strip()

    def read(self, ref: str, path: str) -> bytes | None:
        try:
            kind = self.git("cat-file", "-t", f"{ref}:{path}").decode().strip()
        except GitError:
            return None
        if kind != "blob":
            return None
        return self.git("cat-file", "blob", f"{ref}:{path}")

    def blob_sha(self, ref: str, path: str) -> str | None:
        try:
            return self.git("rev-parse", f"{ref}:{path}").decode().strip()
        except GitError:
            return None

    def commit_info(self, sha: str) -> dict[str, object]:
        raw = self.git("cat-file", "commit", sha).decode()
        header, _, message = raw.partition("\n\n")
        tree = ""
        parents: list[str] = []
        for line in header.splitlines():
            if line.startswith("tree "):
                tree = line[5:]
            elif line.startswith("parent "):
                parents.append(line[7:])
        return {"sha": sha, "tree": tree, "parents": parents, "message": message}

    def hash_blob(self, content: bytes) -> str:
        return self.git("hash-object", "-w", "--stdin", input=content).decode().strip()

    def hash_blobs(self, files: dict[str, bytes | None]) -> dict[str, str | None]:
        """Write many blobs with one ``git hash-object`` (None stays None: a deletion)."""
        present = [(path, content) for path, content in files.items() if content is not None]
        shas: dict[str, str | None] = dict.fromkeys(files)
        if not present:
            return shas
        with tempfile.TemporaryDirectory() as tmp:
            names = []
            for index, (_, content) in enumerate(present):
                name = Path(tmp) / str(index)
                name.write_bytes(content)
                names.append(str(name))
            out = self.git("hash-object", "-w", "--stdin-paths", input="\n".join(names).encode())
        for (path, _), sha in zip(present, out.decode().split(), strict=True):
            shas[path] = sha
        return shas

    def tree_shas(self, ref: str) -> dict[str, str]:
        """Every file's blob sha at ``ref``."""
        out = self.git("ls-tree", "-r", "-z", ref).decode(errors="replace")
        shas = {}
        for entry in out.split("\0"):
            if entry:
                meta, _, path = entry.partition("\t")
                shas[path] = meta.split()[2]
        return shas

    def write_tree(self, base_tree: str | None, entries: dict[str, str | None]) -> str:
        """A tree from ``base_tree`` with ``entries`` (path -> blob sha, None deletes)."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base_tree:
                self.git("read-tree", base_tree, env=env)
            else:
                self.git("read-tree", "--empty", env=env)
            lines = []
            for path, sha in entries.items():
                if sha is None:
                    lines.append(f"0 {ZERO}\t{path}")
                else:
                    lines.append(f"100644 {sha}\t{path}")
            self.git(
                "update-index", "--index-info", input="\n".join(lines).encode() + b"\n", env=env
            )
            return self.git("write-tree", env=env).decode().strip()

    def commit_tree(self, tree: str, parents: list[str], message: str) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.git(*args, input=message.encode()).decode().strip()

    def commit_files(
        self, branch: str, files: dict[str, bytes | None], message: str, *, start: str | None = None
    ) -> str:
        """Commit ``files`` onto ``branch`` (created from ``start`` when new)."""
        parent = self.rev(f"refs/heads/{branch}") or (self.rev(start) if start else None)
        base_tree = str(self.commit_info(parent)["tree"]) if parent else None
        entries = self.hash_blobs(files)
        tree = self.write_tree(base_tree, entries)
        sha = self.commit_tree(tree, [parent] if parent else [], message)
        self.set_ref(f"refs/heads/{branch}", sha)
        return sha

    def diff(self, base: str, head: str) -> tuple[str, list[FilePatch]]:
        raw = self.git("diff", "--no-color", "--no-ext-diff", "-M", base, head).decode(
            errors="replace"
        )
        return raw, parse_diff(raw)


class GitError(RuntimeError):
    pass


def parse_diff(raw: str) -> list[FilePatch]:
    files: list[FilePatch] = []
    sections = re.split(r"^(?=diff --git )", raw, flags=re.M)
    for section in sections:
        if not section.startswith("diff --git "):
            continue
        head, sep, rest = section.partition("\n@@")
        header_lines = head.splitlines()
        patch = ("@@" + rest) if sep else None
        match = re.match(r"diff --git a/(.*) b/(.*)$", header_lines[0])
        old_path = new_path = match.group(2) if match else ""
        if match:
            old_path = match.group(1)
        status = "modified"
        old_mode = new_mode = "100644"
        binary = False
        for line in header_lines[1:]:
            if line.startswith("new file mode"):
                status, new_mode, old_mode = "added", line.split()[-1], "0"
            elif line.startswith("deleted file mode"):
                status, old_mode, new_mode = "removed", line.split()[-1], "0"
            elif line.startswith("rename from "):
                status, old_path = "renamed", line[len("rename from ") :]
            elif line.startswith("rename to "):
                new_path = line[len("rename to ") :]
            elif line.startswith("--- a/"):
                old_path = line[6:]
            elif line.startswith("+++ b/"):
                new_path = line[6:]
            elif line.startswith("Binary files"):
                binary = True
        header = "\n".join(header_lines) + "\n"
        fp = FilePatch(
            path=new_path if status != "removed" else old_path,
            old_path=old_path,
            status=status,
            header=header,
            patch=None if binary else patch,
            old_mode=old_mode,
            new_mode=new_mode,
        )
        if patch:
            if patch.endswith("\n"):
                fp.patch = patch[:-1]
            for line in patch.splitlines():
                hunk = HUNK.match(line)
                if hunk:
                    start = int(hunk.group(3))
                    count = int(hunk.group(4)) if hunk.group(4) is not None else 1
                    if count:
                        fp.hunks.append((start, start + count - 1))
                elif line.startswith("+"):
                    fp.additions += 1
                elif line.startswith("-"):
                    fp.deletions += 1
        files.append(fp)
    return files
