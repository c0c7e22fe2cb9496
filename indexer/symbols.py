"""The symbol graph (who defines and who references which name) and a ranked repo map of
the definitions most relevant to a set of changed files, fitted to a token budget.

Ranking follows aider's repo map: files are nodes, an edge runs from a file that references
a name to each file that defines it, and a PageRank personalised to the changed files ranks
them; a definition's score is the rank that flows to it through its name."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from indexer.state import DefSummary, FileSymbols
from indexer.tokens import TokenCounter

_DAMPING = 0.85
_ITERATIONS = 30
_SKIP_KINDS = frozenset({"module"})


@dataclass(frozen=True, slots=True)
class SymbolGraph:
    definitions: Mapping[str, frozenset[str]]  # name -> paths defining it
    references: Mapping[str, Mapping[str, int]]  # name -> path -> times referenced
    files: Mapping[str, FileSymbols]

    @classmethod
    def build(cls, files: Iterable[FileSymbols]) -> SymbolGraph:
        defs: dict[str, set[str]] = defaultdict(set)
        refs: dict[str, Counter[str]] = defaultdict(Counter)
        by_path: dict[str, FileSymbols] = {}
        for f in files:
            by_path[f.path] = f
            for d in f.definitions:
                defs[d.name].add(f.path)
            for name in f.references:
                refs[name][f.path] += 1
        return cls(
            {k: frozenset(v) for k, v in defs.items()},
            {k: dict(v) for k, v in refs.items()},
            by_path,
        )

    def defined_in(self, name: str) -> frozenset[str]:
        return self.definitions.get(name, frozenset())

    def referenced_by(self, name: str) -> frozenset[str]:
        return frozenset(self.references.get(name, {}))


@dataclass(frozen=True, slots=True)
class MapEntry:
    path: str
    definition: DefSummary
    score: float


@dataclass(frozen=True, slots=True)
class RepoMap:
    entries: tuple[MapEntry, ...]
    text: str
    tokens: int


def rank_definitions(graph: SymbolGraph, changed: Iterable[str]) -> list[MapEntry]:
    """Definitions outside the changed files, most relevant first."""
    changed_set = {p for p in changed if p in graph.files}
    paths = sorted(graph.files)
    if not paths:
        return []
    # edges: referencing file -> (defining file, name, weight)
    edges: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for name, users in graph.references.items():
        definers = graph.definitions.get(name)
        if not definers:
            continue
        for user, count in users.items():
            for target in definers:
                if target != user:
                    w = math.sqrt(count) / len(definers)
                    if user in changed_set:
                        w *= 10.0
                    edges[user].append((target, name, w))
    out_weight = {u: sum(w for _, _, w in es) for u, es in edges.items()}
    personal = {p: (1.0 if p in changed_set else 0.0) for p in paths}
    if not changed_set:
        personal = dict.fromkeys(paths, 1.0)
    total = sum(personal.values())
    personal = {p: v / total for p, v in personal.items()}
    rank = dict(personal)
    for _ in range(_ITERATIONS):
        nxt = {p: (1 - _DAMPING) * personal[p] for p in paths}
        dangling = sum(rank[p] for p in paths if not out_weight.get(p))
        for p in paths:
            nxt[p] += _DAMPING * dangling * personal[p]
        for u, es in edges.items():
            share = _DAMPING * rank[u] / out_weight[u]
            for target, _, w in es:
                nxt[target] += share * w
        rank = nxt
    flow: dict[tuple[str, str], float] = defaultdict(float)
    for u, es in edges.items():
        for target, name, w in es:
            flow[(target, name)] += rank[u] * w / out_weight[u]
    entries: list[MapEntry] = []
    for (path, name), score in flow.items():
        if path in changed_set:
            continue
        for defn in graph.files[path].definitions:
            if defn.name == name and defn.kind not in _SKIP_KINDS:
                entries.append(MapEntry(path, defn, score))
    entries.sort(key=lambda e: (-e.score, e.path, e.definition.line))
    return entries


def render(entries: Iterable[MapEntry]) -> str:
    lines: list[str] = []
    current = None
    for e in sorted(entries, key=lambda e: (e.path, e.definition.line)):
        if e.path != current:
            lines.append(f"{e.path}:")
            current = e.path
        lines.append(f"  {e.definition.line}: {e.definition.signature}")
    return "\n".join(lines)


def repo_map(
    graph: SymbolGraph, changed: Iterable[str], *, budget: int, counter: TokenCounter
) -> RepoMap:
    """The best-ranked definitions whose rendering fits `budget` tokens (binary search)."""
    ranked = rank_definitions(graph, changed)
    lo, hi = 0, len(ranked)
    best: tuple[int, str, int] = (0, "", 0)
    while lo <= hi:
        mid = (lo + hi) // 2
        text = render(ranked[:mid])
        n = counter.count([text])[0] if text else 0
        if n <= budget:
            best = (mid, text, n)
            lo = mid + 1
        else:
            hi = mid - 1
    k, text, n = best
    return RepoMap(tuple(ranked[:k]), text, n)
