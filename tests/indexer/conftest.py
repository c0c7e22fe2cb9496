"""Session-wide real components: the MiniLM int8 model and its tokenizer load once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from indexer.embedding import MiniLMEmbedder, MiniLMPaths
from indexer.tokens import HFTokenCounter

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may fetch weights


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder.load(threads=2)


@pytest.fixture(scope="session")
def counter() -> HFTokenCounter:
    return HFTokenCounter.from_file(MiniLMPaths.installed().tokenizer)


class GitRepo:
    """A real repository in tmp_path, written and committed with GitPython."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = git.Repo.init(root, initial_branch="main")
        with self.repo.config_writer() as cfg:
            cfg.set_value("user", "name", "Test")
            cfg.set_value("user", "email", "test@example.com")

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for path, content in files.items():
            target = self.root / path
            if content is None:
                self.repo.index.remove([path], working_tree=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
            self.repo.index.add([path])

    def commit(self, files: dict[str, str | bytes | None], message: str = "change") -> str:
        self.write(files)
        return str(self.repo.index.commit(message).hexsha)

    def rename(self, old: str, new: str) -> str:
        self.repo.index.move([old, new])
        return str(self.repo.index.commit(f"rename {old}").hexsha)


@pytest.fixture
def git_repo(tmp_path: Path) -> Iterator[GitRepo]:
    return GitRepo(tmp_path / "repo")
