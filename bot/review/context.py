"""The code a file's review needs beyond its hunks. Pure: sources in, text out.

For each changed file: the whole enclosing function/class of every changed line (tree-sitter),
and the signatures of the symbols the added lines use that are defined in the change's files.
Kept within a line budget per file; what was cut is said in the text itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.review.diff import FileDiff
from indexer.errors import IndexerError
from indexer.languages import language_for_path
from indexer.parsing import Definition, ParsedFile, parse_source

MAX_SOURCE_BYTES = 512 * 1024


def source_text(raw: bytes) -> str | None:
    """A changed file's new-side bytes as text for context and suggestion checks, or None when
    it is too large, binary (a NUL early on) or not UTF-8."""
    if len(raw) > MAX_SOURCE_BYTES or b"\x00" in raw[:8192]:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True, slots=True)
class ContextBudget:
    scope_lines: int = 160  # enclosing definitions, per file
    signatures: int = 20  # related definitions' signatures, per file


def _parse(path: str, source: str) -> ParsedFile | None:
    language = language_for_path(path)
    if language is None:
        return None
    try:
        return parse_source(source.encode(), language)
    except IndexerError:
        return None


def _innermost(defs: tuple[Definition, ...], line0: int) -> Definition | None:
    best: Definition | None = None
    for d in defs:
        if d.start_line <= line0 <= d.end_line and (
            best is None or d.end_line - d.start_line < best.end_line - best.start_line
        ):
            best = d
    return best


def _numbered(lines: list[str], start0: int, end0: int) -> str:
    return "\n".join(f"{i + 1:>6}  {lines[i]}" for i in range(start0, min(end0 + 1, len(lines))))


def file_context(
    file: FileDiff,
    sources: Mapping[str, str],
    *,
    budget: ContextBudget = ContextBudget(),
    parsed: Mapping[str, ParsedFile | None] | None = None,
) -> str:
    """The enclosing scopes of ``file``'s changed lines and the signatures it uses."""
    source = sources.get(file.path)
    if source is None or not file.added_lines:
        return ""
    cache = dict(parsed or {})
    if file.path not in cache:
        cache[file.path] = _parse(file.path, source)
    mine = cache[file.path]
    if mine is None:
        return ""
    lines = source.splitlines()
    parts: list[str] = []
    shown: set[tuple[int, int]] = set()
    used = 0
    omitted: list[str] = []
    for line in sorted(file.added_lines):
        scope = _innermost(mine.definitions, line - 1)
        if scope is None or (scope.start_line, scope.end_line) in shown:
            continue
        shown.add((scope.start_line, scope.end_line))
        size = scope.end_line - scope.start_line + 1
        if used + size > budget.scope_lines:
            omitted.append(scope.qualname)
            continue
        used += size
        parts.append(
            f"# {scope.kind} {scope.qualname}\n"
            + _numbered(lines, scope.start_line, scope.end_line)
        )
    if omitted:
        parts.append("# enclosing scopes left out (budget): " + ", ".join(omitted))
    added0 = {n - 1 for n in file.added_lines}
    names = {ref.name for ref in mine.references if ref.line in added0}
    signatures: list[str] = []
    for path, other in sorted(sources.items()):
        if path not in cache:
            cache[path] = _parse(path, other)
        parsed_other = cache[path]
        if parsed_other is None:
            continue
        for d in parsed_other.definitions:
            if d.name not in names or (path == file.path and (d.start_line, d.end_line) in shown):
                continue
            signatures.append(f"{path}:{d.start_line + 1}: {d.signature}")
    if signatures:
        parts.append(
            "# definitions used by the change\n" + "\n".join(signatures[: budget.signatures])
        )
    return "\n\n".join(parts)
