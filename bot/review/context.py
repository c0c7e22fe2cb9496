"""The code a file's review needs beyond its hunks. Pure: sources in, text out.

For each changed file: the whole enclosing function/class of every changed line (tree-sitter),
and the signatures of the symbols the added lines use that are defined in the change's files.
Kept within a line budget per file; what was cut is said in the text itself.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass

from bot.review.diff import FileDiff
from indexer.errors import IndexerError, ParseTimeout
from indexer.languages import language_for_path
from indexer.parsing import Definition, ParsedFile, parse_source

MAX_SOURCE_BYTES = 512 * 1024
MAX_PARSED_BYTES = 8 * 1024 * 1024  # parsed per job, all sources together
PARSE_TIMEOUT_S = 10.0  # one source's parse


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


class ParseCache:
    """The tree-sitter parses of one job's sources: each parsed at most once, at most
    ``max_bytes`` parsed in all (changed files first, as they are asked for), each parse
    limited to ``timeout_s``. A source past the budget, over time or in no known language
    gives no context; ``skipped`` says which and why.
    """

    def __init__(
        self,
        sources: Mapping[str, str],
        *,
        max_bytes: int = MAX_PARSED_BYTES,
        timeout_s: float = PARSE_TIMEOUT_S,
    ) -> None:
        self._sources = sources
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._parsed: dict[str, ParsedFile | None] = {}
        self._by_name: dict[str, list[tuple[str, Definition]]] | None = None
        self.parsed_bytes = 0
        self.parses = 0
        self.skipped: dict[str, str] = {}

    def get(self, path: str) -> ParsedFile | None:
        if path not in self._parsed:
            self._parsed[path] = self._parse(path)
        return self._parsed[path]

    def _parse(self, path: str) -> ParsedFile | None:
        source = self._sources.get(path)
        language = language_for_path(path)
        if source is None or language is None:
            return None
        data = source.encode()
        if self.parsed_bytes + len(data) > self._max_bytes:
            self.skipped[path] = f"over the {self._max_bytes} bytes parsed per job"
            return None
        self.parsed_bytes += len(data)
        self.parses += 1
        try:
            return parse_source(data, language, timeout_s=self._timeout_s)
        except ParseTimeout:
            self.skipped[path] = f"parse took over {self._timeout_s:g} s"
            return None
        except IndexerError:
            return None

    def defined(self, names: set[str]) -> list[tuple[str, Definition]]:
        """Definitions named in ``names`` across the sources, by path then position."""
        if self._by_name is None:
            self._by_name = {}
            for path in sorted(self._sources):
                parsed = self.get(path)
                for d in parsed.definitions if parsed else ():
                    self._by_name.setdefault(d.name, []).append((path, d))
        found = [entry for name in names for entry in self._by_name.get(name, ())]
        found.sort(key=lambda e: (e[0], e[1].start_line, e[1].end_line))
        return found


def _innermost(defs: tuple[Definition, ...], lines0: list[int]) -> dict[int, Definition]:
    """The innermost definition around each of the sorted ``lines0`` (the smallest span; the
    first of equal ones), in one pass: time grows with the lines times the nesting depth, not
    with the lines times all the file's definitions (a new 400 KB file has thousands of both)."""
    order = sorted(range(len(defs)), key=lambda i: (defs[i].start_line - defs[i].end_line, -i))
    found: dict[int, Definition] = {}
    for i in order:  # widest first, so narrower ones (and earlier equal ones) overwrite
        d = defs[i]
        for line0 in lines0[bisect_left(lines0, d.start_line) : bisect_right(lines0, d.end_line)]:
            found[line0] = d
    return found


def _numbered(lines: list[str], start0: int, end0: int) -> str:
    return "\n".join(f"{i + 1:>6}  {lines[i]}" for i in range(start0, min(end0 + 1, len(lines))))


def file_context(
    file: FileDiff,
    sources: Mapping[str, str],
    *,
    budget: ContextBudget = ContextBudget(),
    cache: ParseCache | None = None,
) -> str:
    """The enclosing scopes of ``file``'s changed lines and the signatures it uses.

    Pass one ``cache`` for all the files of a job: each source is then parsed once.
    """
    source = sources.get(file.path)
    if source is None or not file.added_lines:
        return ""
    cache = cache if cache is not None else ParseCache(sources)
    mine = cache.get(file.path)
    if mine is None:
        return ""
    lines = source.splitlines()
    parts: list[str] = []
    shown: set[tuple[int, int]] = set()
    used = 0
    omitted: list[str] = []
    added = sorted(file.added_lines)
    scopes = _innermost(mine.definitions, [line - 1 for line in added])
    for line in added:
        scope = scopes.get(line - 1)
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
    for path, d in cache.defined(names):
        if path == file.path and (d.start_line, d.end_line) in shown:
            continue
        signatures.append(f"{path}:{d.start_line + 1}: {d.signature}")
        if len(signatures) >= budget.signatures:
            break
    if signatures:
        parts.append("# definitions used by the change\n" + "\n".join(signatures))
    return "\n\n".join(parts)
