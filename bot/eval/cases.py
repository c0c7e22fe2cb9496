"""The evaluation case format (one JSON object per line; docs/eval.md) and its checks.

A case is one change: its diff, where the files at base and head are, and reference comments
(path, side, 1-based inclusive line range, category, and whether experts accepted it or
rejected it). Reading the files is the only I/O here, behind :func:`read_side`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Literal

import git
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.review.context import MAX_SOURCE_BYTES, source_text
from bot.review.diff import DiffError, FileDiff, FileStatus, parse_diff

FORMAT = "forge-assist-eval/1"
Side = Literal["right", "left"]
Label = Literal["accepted", "rejected"]


class CaseError(ValueError):
    """A case file or case is not valid; the message names the line and the field."""


class Reference(BaseModel):
    """A labelled review comment. ``right``: lines of the head file; ``left``: of the base."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Annotated[str, Field(min_length=1, max_length=1000)]
    side: Side = "right"
    start_line: Annotated[int, Field(ge=1)]
    end_line: Annotated[int, Field(ge=1)]
    label: Label = "accepted"
    category: str = ""
    severity: str = ""
    note: str = ""
    origin: str = ""  # "human", "ai:<model>", or "" when unknown
    context: str = ""  # what the comment needs to be seen (AACR: Diff/File/Repo Level)

    @model_validator(mode="after")
    def _ordered(self) -> Reference:
        if self.end_line < self.start_line:
            raise ValueError(f"end_line {self.end_line} is before start_line {self.start_line}")
        return self


class FilesSource(BaseModel):
    """The touched files' texts inline (path -> text); a path absent from a side is absent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["files"] = "files"
    base: dict[str, str] = Field(default_factory=dict)
    head: dict[str, str] = Field(default_factory=dict)


class DirsSource(BaseModel):
    """Two folders holding the touched files at base and head (relative to the case file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["dirs"] = "dirs"
    base: str
    head: str


class GitSource(BaseModel):
    """A local git repository (or bundle cloned to one) and the two commits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["git"] = "git"
    path: str
    base: Annotated[str, Field(min_length=4, max_length=64)]
    head: Annotated[str, Field(min_length=4, max_length=64)]


Source = Annotated[FilesSource | DirsSource | GitSource, Field(discriminator="kind")]


class Case(BaseModel):
    """One change to review and its references. A case with no accepted reference is clean."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["forge-assist-eval/1"] = "forge-assist-eval/1"
    id: Annotated[str, Field(min_length=1, max_length=300)]
    title: str = ""
    body: str = ""
    language: str = ""
    diff: str
    source: Source
    references: list[Reference] = Field(default_factory=list)
    meta: dict[str, object] = Field(default_factory=dict)

    @property
    def accepted(self) -> list[Reference]:
        return [r for r in self.references if r.label == "accepted"]

    @property
    def clean(self) -> bool:
        return not self.accepted


def load_cases(path: Path) -> list[Case]:
    """Every case of a JSONL file; any invalid line is an error naming it (nothing skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseError(f"cannot read {path}: {exc}") from exc
    cases: list[Case] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = Case.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise CaseError(f"{path}:{number}: not a valid case: {exc}") from exc
        if case.id in seen:
            raise CaseError(f"{path}:{number}: duplicate case id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    return cases


def dump_cases(cases: Iterable[Case]) -> str:
    return "".join(case.model_dump_json(exclude_defaults=False) + "\n" for case in cases)


def read_side(case: Case, side: Side, paths: Iterable[str], *, root: Path) -> dict[str, str]:
    """The text of ``paths`` on one side of the change (absent, binary or too-large files are
    left out). Folders and repositories are resolved against ``root`` (the case file's folder).
    """
    wanted = list(dict.fromkeys(paths))
    source = case.source
    out: dict[str, str] = {}
    if isinstance(source, FilesSource):
        texts = source.base if side == "left" else source.head
        return {p: texts[p] for p in wanted if p in texts}
    if isinstance(source, DirsSource):
        folder = (root / (source.base if side == "left" else source.head)).resolve()
        for name in wanted:
            file = (folder / name).resolve()
            if not file.is_relative_to(folder) or not file.is_file():
                continue
            if file.stat().st_size > MAX_SOURCE_BYTES:
                continue
            text = source_text(file.read_bytes())
            if text is not None:
                out[name] = text
        return out
    try:
        repo = git.Repo((root / source.path).resolve())
        tree = repo.commit(source.base if side == "left" else source.head).tree
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.BadName, ValueError) as exc:
        raise CaseError(f"case {case.id}: cannot open {source.path} at {side}: {exc}") from exc
    for name in wanted:
        try:
            blob = tree / name
        except KeyError:
            continue
        if blob.size > MAX_SOURCE_BYTES:
            continue
        text = source_text(blob.data_stream.read())
        if text is not None:
            out[name] = text
    return out


def diff_files(case: Case) -> tuple[FileDiff, ...]:
    try:
        return parse_diff(case.diff)
    except DiffError as exc:
        raise CaseError(f"case {case.id}: the diff does not parse: {exc}") from exc


def side_paths(files: Iterable[FileDiff]) -> dict[Side, set[str]]:
    """Which paths exist on each side of the diff (old paths for the left side)."""
    out: dict[Side, set[str]] = {"right": set(), "left": set()}
    for f in files:
        if f.status is not FileStatus.DELETED:
            out["right"].add(f.path)
        if f.status is not FileStatus.ADDED:
            out["left"].add(f.old_path or f.path)
    return out


def check_case(case: Case, *, root: Path) -> list[str]:
    """What is wrong with a case: references outside the diff's files, or beyond the last
    line of the file on the side they name. Empty when the case is sound."""
    files = diff_files(case)
    if not files:
        return [f"case {case.id}: the diff changes no file"]
    present = side_paths(files)
    problems: list[str] = []
    lengths: dict[Side, Mapping[str, str]] = {
        side: read_side(case, side, [r.path for r in case.references if r.side == side], root=root)
        for side in ("right", "left")
    }
    for index, ref in enumerate(case.references):
        where = f"case {case.id} reference {index} ({ref.path}:{ref.start_line}-{ref.end_line})"
        if ref.path not in present[ref.side]:
            problems.append(f"{where}: not a file on the {ref.side} side of the diff")
            continue
        text = lengths[ref.side].get(ref.path)
        if text is None:
            problems.append(f"{where}: the {ref.side} side's text is not available")
            continue
        count = len(text.splitlines())
        if ref.end_line > count:
            problems.append(f"{where}: the file has {count} lines on the {ref.side} side")
    return problems


def iter_jsonl(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of each non-empty line; a bad line is a CaseError."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise CaseError(f"{path}:{number}: not JSON: {exc}") from exc
