"""AACR-Bench (alibaba/aacr-bench, Apache-2.0) into evaluation cases.

Two inputs:

* the aacr-mini corpus (``items/<owner>__<repo>__<pr>/`` with ``item.json``, ``diff.patch``,
  ``base/`` and ``head/``): each item becomes a case whose files are read from those folders;
* the full label files (``positive_samples.json`` and ``negative_samples.json``) with local
  checkouts of the upstream repositories (``<checkouts>/<owner>__<repo>`` or
  ``<checkouts>/<owner>/<repo>``): the diff is ``git diff -M merge-base(source, target) target``
  (AACR's ``source_commit`` is on the base branch, ``target_commit`` is the reviewed PR head).
  A PR whose checkout or commits are missing is listed in :attr:`Imported.needed`.

Accepted comments become ``accepted`` references, rejected ones (``negative_comments`` or
``negative_samples.json``) ``rejected``. A comment whose ``from_line`` is after its ``to_line``
(one in the full set) is stored with the two swapped and said so in the case's ``meta``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from bot.eval.cases import (
    Case,
    CaseError,
    DirsSource,
    FilesSource,
    GitSource,
    Reference,
    diff_files,
    read_side,
)

_PR_URL = re.compile(r"^https://github\.com/([\w.-]+)/([\w.-]+)/pull/(\d+)/?$")


@dataclass(frozen=True, slots=True)
class Needed:
    """A PR that could not be converted: the repository and the commits it needs."""

    pr_url: str
    repo: str
    commits: tuple[str, ...]
    why: str


@dataclass
class Imported:
    cases: list[Case] = field(default_factory=list)
    needed: list[Needed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _references(
    comments: Iterable[Mapping[str, Any]], label: str, swapped: list[str]
) -> list[Reference]:
    out: list[Reference] = []
    for index, c in enumerate(comments):
        start, end = int(c["from_line"]), int(c["to_line"])
        if end < start:
            swapped.append(f"{label} comment {index}: from_line {start} > to_line {end}, swapped")
            start, end = end, start
        model = str(c.get("source_model") or "")
        out.append(
            Reference(
                path=str(c["path"]),
                side="left" if str(c.get("side", "right")).lower() == "left" else "right",
                start_line=start,
                end_line=end,
                label="accepted" if label == "accepted" else "rejected",
                category=str(c.get("category") or ""),
                note=str(c.get("note") or ""),
                origin=f"ai:{model}" if c.get("is_ai_comment") else "human",
                context=str(c.get("context") or ""),
            )
        )
    return out


def _meta(item: Mapping[str, Any], swapped: list[str]) -> dict[str, object]:
    meta: dict[str, object] = {
        "source": "aacr-bench",
        "pr_url": item.get("githubPrUrl", ""),
        "source_commit": item.get("source_commit", ""),
        "target_commit": item.get("target_commit", ""),
        "pr_category": item.get("category", ""),
        "change_line_count": item.get("change_line_count"),
    }
    if swapped:
        meta["fixes"] = swapped
    return meta


def _title(repo: str, number: int | str) -> str:
    # AACR-Bench ships no PR titles or descriptions: the model sees only this and the code.
    return f"{repo} pull request #{number}"


def import_mini(folder: Path, out_dir: Path, *, inline: bool = False) -> Imported:
    """Every item of an aacr-mini folder as a case (files referenced relative to ``out_dir``,
    or copied into the case with ``inline``)."""
    items = folder / "items"
    if not items.is_dir():
        raise CaseError(f"{folder} has no items/ folder (not aacr-mini)")
    result = Imported()
    for item_dir in sorted(p for p in items.iterdir() if p.is_dir()):
        try:
            item = json.loads((item_dir / "item.json").read_text(encoding="utf-8"))
            diff = (item_dir / "diff.patch").read_text(encoding="utf-8")
        except (OSError, json.JSONDecodeError) as exc:
            raise CaseError(f"{item_dir}: unreadable item: {exc}") from exc
        swapped: list[str] = []
        refs = _references(item.get("comments", []), "accepted", swapped)
        refs += _references(item.get("negative_comments", []), "rejected", swapped)
        dirs = DirsSource(
            base=os.path.relpath(item_dir / "base", out_dir.resolve()),
            head=os.path.relpath(item_dir / "head", out_dir.resolve()),
        )
        meta = _meta(item, swapped) | {
            "base_commit": item.get("base_commit", ""),
            "head_commit": item.get("head_commit", ""),
        }
        case = Case(
            id=f"{item['repo']}#{item['pr_number']}",
            title=_title(item["repo"], item["pr_number"]),
            language=str(item.get("project_main_language", "")),
            diff=diff,
            source=dirs,
            references=refs,
            meta=meta,
        )
        if inline:
            case = _inlined(case, out_dir)
        result.cases.append(case)
    return result


def _inlined(case: Case, root: Path) -> Case:
    files = diff_files(case)
    new = [f.path for f in files]
    old = [f.old_path or f.path for f in files]
    source = FilesSource(
        base=read_side(case, "left", old, root=root), head=read_side(case, "right", new, root=root)
    )
    return case.model_copy(update={"source": source})


def _checkout(checkouts: Path, owner: str, name: str) -> Path | None:
    for candidate in (checkouts / f"{owner}__{name}", checkouts / owner / name):
        if (candidate / ".git").exists() or (candidate / "HEAD").is_file():
            return candidate
    return None


def import_labels(labels: Path, checkouts: Path, out_dir: Path) -> Imported:
    """The full label files with local checkouts; PRs that cannot be built are ``needed``."""
    folder = labels / "labels" if (labels / "labels").is_dir() else labels
    try:
        positive = json.loads((folder / "positive_samples.json").read_text(encoding="utf-8"))
        negative_path = folder / "negative_samples.json"
        negative = (
            json.loads(negative_path.read_text(encoding="utf-8")) if negative_path.is_file() else []
        )
    except (OSError, json.JSONDecodeError) as exc:
        raise CaseError(f"{folder}: cannot read the label files: {exc}") from exc
    rejected: dict[str, list[Mapping[str, Any]]] = {}
    metadata: dict[str, Mapping[str, Any]] = {}
    for entry in negative:
        rejected.setdefault(entry["githubPrUrl"], []).extend(entry.get("comments", []))
        metadata.setdefault(entry["githubPrUrl"], entry)
    result = Imported()
    urls = [e["githubPrUrl"] for e in positive]
    urls += [u for u in rejected if u not in set(urls)]  # PRs with rejected comments only
    by_url = {e["githubPrUrl"]: e for e in positive}
    for url in urls:
        item = by_url.get(url) or metadata[url]
        m = _PR_URL.match(url)
        if m is None:
            result.notes.append(f"{url}: not a GitHub pull request URL, left out")
            continue
        owner, name, number = m.groups()
        commits = (str(item["source_commit"]), str(item["target_commit"]))
        repo_path = _checkout(checkouts, owner, name)
        if repo_path is None:
            result.needed.append(Needed(url, f"{owner}/{name}", commits, "no checkout"))
            continue
        try:
            repo = git.Repo(repo_path)
            source, target = (repo.commit(c) for c in commits)
            bases = repo.merge_base(source, target)
            if not bases:
                raise ValueError("the commits share no history")
            base = bases[0]
            diff = repo.git.diff("-M", "--no-color", "--no-ext-diff", base.hexsha, target.hexsha)
        except (git.BadName, ValueError, git.GitCommandError) as exc:
            why = f"commits not in the checkout: {str(exc).strip()[:200]}"
            result.needed.append(Needed(url, f"{owner}/{name}", commits, why))
            continue
        swapped: list[str] = []
        refs = _references(item.get("comments", []) if url in by_url else [], "accepted", swapped)
        refs += _references(rejected.get(url, []), "rejected", swapped)
        result.cases.append(
            Case(
                id=f"{owner}/{name}#{number}",
                title=_title(f"{owner}/{name}", number),
                language=str(item.get("project_main_language", "")),
                diff=diff + "\n" if diff else "",
                source=GitSource(
                    path=os.path.relpath(repo_path.resolve(), out_dir.resolve()),
                    base=base.hexsha,
                    head=target.hexsha,
                ),
                references=refs,
                meta=_meta(item, swapped) | {"base_commit": base.hexsha},
            )
        )
    return result
