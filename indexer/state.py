"""Per-repository index state, persisted as JSON: which commit and which blob of every path
the base layer holds, the PR overlays on top of it, and each file's symbols."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class DefSummary:
    name: str
    qualname: str
    kind: str
    line: int  # 1-based
    signature: str


@dataclass(frozen=True, slots=True)
class FileSymbols:
    path: str
    blob: str
    definitions: tuple[DefSummary, ...]
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Overlay:
    head: str
    base_commit: str
    blobs: dict[str, str]  # the overlay's own files (added or changed by the head)
    masked: tuple[str, ...]  # base paths the head changed or removed


@dataclass(frozen=True, slots=True)
class RepoState:
    repo: str
    model: str
    commit: str | None = None
    blobs: dict[str, str] = field(default_factory=dict)
    overlays: dict[str, Overlay] = field(default_factory=dict)
    symbols: dict[str, FileSymbols] = field(default_factory=dict)


def _symbols_from(raw: dict[str, Any]) -> FileSymbols:
    return FileSymbols(
        raw["path"],
        raw["blob"],
        tuple(DefSummary(**d) for d in raw["definitions"]),
        tuple(raw["references"]),
    )


class StateStore:
    """One JSON file per (repository, model) under `root`; writes are atomic renames."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, repo: str, model: str) -> Path:
        return self._root / f"{repo}.{model}.json"

    def load(self, repo: str, model: str) -> RepoState:
        path = self._path(repo, model)
        if not path.is_file():
            return RepoState(repo=repo, model=model)
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("version") != STATE_VERSION:
            return RepoState(repo=repo, model=model)
        return RepoState(
            repo=raw["repo"],
            model=raw["model"],
            commit=raw["commit"],
            blobs=dict(raw["blobs"]),
            overlays={
                k: Overlay(v["head"], v["base_commit"], dict(v["blobs"]), tuple(v["masked"]))
                for k, v in raw["overlays"].items()
            },
            symbols={k: _symbols_from(v) for k, v in raw["symbols"].items()},
        )

    def save(self, state: RepoState) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        data = {"version": STATE_VERSION, **asdict(state)}
        fd, tmp = tempfile.mkstemp(dir=self._root, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, self._path(state.repo, state.model))
