"""Where a fix goes: candidate files for an issue, and their outlines for the model. Pure.

Candidates come from four signals, added up per file:

- paths the issue mentions (``src/app/io.py``, or a file name that is unique in the repo);
- symbols the issue names (``parse_header``, ``HttpClient.send``, ``load()``) and the files
  that define them (a name defined in several files spreads its weight over them);
- hybrid search over the issue text (the repository index; reciprocal-rank weighted);
- the repo map: files whose definitions the strongest candidates use (PageRank over the
  symbol graph), so a caller's issue also finds the callee.

When no index is available a BM25 ranking over the files' identifiers stands in for the
search. Test files weigh half: the fix usually goes into the code under test.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from indexer.errors import GrammarError
from indexer.languages import language_for_path
from indexer.parsing import Definition, parse_source
from indexer.sparse import terms

PATH_WEIGHT = 8.0
SYMBOL_WEIGHT = 5.0
SEARCH_WEIGHT = 6.0
RELATED_WEIGHT = 1.5
LEXICAL_WEIGHT = 4.0
_RRF_K = 2.0
_PATHLIKE = re.compile(r"(?<![\w/.-])([\w.-]+(?:/[\w.-]+)*\.[A-Za-z0-9]{1,8})(?![\w/])")
_BACKTICK = re.compile(r"`([^`\n]{1,120})`")
_CALL = re.compile(r"\b([A-Za-z_][\w.]*)\s*\(")
_DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b")
_IDENT = re.compile(r"\b[A-Za-z_]\w{2,}\b")
_CODELIKE = re.compile(r"_|[a-z][A-Z]|^[A-Z][a-z]+[A-Z]")
_DATA_KINDS = frozenset({"constant", "variable", "field", "property"})
_TEST = re.compile(r"(^|/)(tests?|spec|__tests__)(/|$)|(^|/)test_[^/]*$|_test\.\w+$|\.spec\.\w+$")


@dataclass(frozen=True, slots=True)
class SearchHit:
    path: str
    symbol: str
    start_line: int
    end_line: int
    score: float


@dataclass(frozen=True, slots=True)
class Candidate:
    path: str
    score: float
    reasons: tuple[str, ...]


@dataclass
class _Tally:
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)


def is_test_path(path: str) -> bool:
    return bool(_TEST.search(path.lower()))


def mentioned_paths(text: str, paths: Iterable[str]) -> list[str]:
    """Repository paths the text names: whole (or a suffix of them), or by a unique file name."""
    known = list(paths)
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in known:
        by_name[PurePosixPath(path).name].append(path)
    found: list[str] = []
    for raw in _PATHLIKE.findall(text):
        token = raw.removeprefix("./")
        if "/" in token:
            hits = [p for p in known if p == token or p.endswith("/" + token)]
        else:
            hits = by_name.get(token, [])
        if len(hits) == 1 and hits[0] not in found:
            found.append(hits[0])
    return found


def named_symbols(text: str) -> tuple[list[str], list[str]]:
    """(code-like names, plain words) the text mentions: backticked, called, dotted,
    snake_case or camelCase names first; other words of three letters or more after."""
    strong: list[str] = []

    def add(name: str) -> None:
        for part in name.split("."):
            part = part.strip("()")
            if len(part) >= 3 and part.isidentifier() and part not in strong:
                strong.append(part)

    for quoted in _BACKTICK.findall(text):
        for name in _DOTTED.findall(quoted) or _IDENT.findall(quoted):
            add(name)
    for name in _CALL.findall(text):
        add(name)
    for name in _DOTTED.findall(text):
        if not _PATHLIKE.fullmatch(name):
            add(name)
    weak: list[str] = []
    for word in _IDENT.findall(text):
        if word in strong or word in weak:
            continue
        if _CODELIKE.search(word):
            strong.append(word)
        else:
            weak.append(word)
    return strong, weak


def definitions_of(path: str, text: str) -> tuple[Definition, ...]:
    language = language_for_path(path)
    if language is None:
        return ()
    try:
        return parse_source(text.encode("utf-8", "replace"), language).definitions
    except (GrammarError, ValueError):
        return ()


def defining_files(
    names: Sequence[str], texts: Mapping[str, str], *, max_files: int = 200
) -> dict[str, list[str]]:
    """name -> files that define it, among the files whose text contains the name."""
    wanted = set(names)
    if not wanted:
        return {}
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(wanted)) + r")\b")
    out: dict[str, list[str]] = defaultdict(list)
    scanned = 0
    for path, text in sorted(texts.items()):
        if scanned >= max_files:
            break
        if language_for_path(path) is None or not pattern.search(text):
            continue
        scanned += 1
        for definition in definitions_of(path, text):
            if definition.name in wanted and path not in out[definition.name]:
                out[definition.name].append(path)
    return dict(out)


def lexical_ranking(query: str, texts: Mapping[str, str], *, limit: int = 20) -> list[str]:
    """Files ranked by BM25 over split identifiers (the stand-in when there is no index)."""
    query_terms = set(terms(query))
    if not query_terms or not texts:
        return []
    counts: dict[str, Counter[str]] = {}
    df: Counter[str] = Counter()
    for path, text in texts.items():
        c = Counter(t for t in terms(text) if t in query_terms)
        c.update(t for t in terms(path) if t in query_terms)
        counts[path] = c
        df.update(c.keys())
    lengths = {path: max(1, len(text) // 8) for path, text in texts.items()}
    average = sum(lengths.values()) / len(lengths)
    n = len(texts)
    scores: dict[str, float] = {}
    for path, c in counts.items():
        score = 0.0
        for term, tf in c.items():
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            norm = 1.2 * (1 - 0.75 + 0.75 * lengths[path] / average)
            score += idf * tf * 2.2 / (tf + norm)
        if score > 0:
            scores[path] = score
    return sorted(scores, key=lambda p: (-scores[p], p))[:limit]


def rank_candidates(
    issue_text: str,
    texts: Mapping[str, str],
    *,
    hits: Sequence[SearchHit] = (),
    related: Sequence[str] = (),
    lexical: Sequence[str] = (),
    limit: int = 8,
) -> list[Candidate]:
    """The files most likely to need the fix, best first, with why each was chosen.

    ``texts`` holds the repository's files (path -> text); ``hits`` the search results for
    the issue text, ``related`` the repo map's files for the strongest candidates, ``lexical``
    a lexical ranking (used when there is no index).
    """
    tally: dict[str, _Tally] = defaultdict(_Tally)
    for path in mentioned_paths(issue_text, texts):
        tally[path].score += PATH_WEIGHT
        tally[path].reasons.append("named in the issue")
    strong, weak = named_symbols(issue_text)
    defined = defining_files(strong + weak, texts)
    for names, weight in ((strong, SYMBOL_WEIGHT), (weak, SYMBOL_WEIGHT / 4)):
        for name in names:
            files = defined.get(name, [])
            for path in files:
                tally[path].score += weight / len(files)
                if f"defines `{name}`" not in tally[path].reasons and len(files) <= 3:
                    tally[path].reasons.append(f"defines `{name}`")
    seen: dict[str, int] = {}
    for hit in hits:
        if hit.path in texts and hit.path not in seen:
            seen[hit.path] = len(seen)
    for path, rank in seen.items():
        tally[path].score += SEARCH_WEIGHT / (_RRF_K + rank)
        tally[path].reasons.append(f"search rank {rank + 1}")
    for rank, path in enumerate(p for p in lexical if p in texts):
        tally[path].score += LEXICAL_WEIGHT / (_RRF_K + rank)
        tally[path].reasons.append(f"lexical rank {rank + 1}")
    for rank, path in enumerate(p for p in related if p in texts):
        tally[path].score += RELATED_WEIGHT / (1 + rank)
        tally[path].reasons.append("used by a candidate (repo map)")
    ranked = [
        Candidate(path, t.score * (0.5 if is_test_path(path) else 1.0), tuple(t.reasons))
        for path, t in tally.items()
        if t.score > 0
    ]
    ranked.sort(key=lambda c: (-c.score, c.path))
    return ranked[:limit]


def outline(path: str, text: str, *, max_lines: int = 60) -> str:
    """A file's skeleton: each definition's line number and signature, nested by depth."""
    definitions = [d for d in definitions_of(path, text) if d.kind not in _DATA_KINDS]
    if not definitions:
        head = text.splitlines()[:8]
        return "\n".join(["  (no outline; first lines:)", *(f"  {line}" for line in head)])
    out = []
    for d in definitions[:max_lines]:
        depth = d.qualname.count(".")
        out.append(f"{'  ' * (depth + 1)}{d.start_line + 1}: {d.signature}")
    if len(definitions) > max_lines:
        out.append(f"  ... and {len(definitions) - max_lines} more definitions")
    return "\n".join(out)
