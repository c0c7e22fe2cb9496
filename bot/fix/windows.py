"""Scopes and windows: the second step of localisation, and the code an edit prompt carries.

Localisation first picks files (:mod:`bot.fix.localise`), then the scopes inside them
(functions, methods, classes from tree-sitter), ranked with their line ranges
(:func:`rank_scopes`). The edit prompt does not carry whole files: it carries *windows*, the
chosen scopes with a few lines around them, plus the signatures of what they use, fitted to the
model's context with its own tokenizer (:func:`fit_windows`). A window too large for the budget
is split along its structure (nested definitions, then the statements of its body, then halves
of its lines) and only the pieces that fit, most relevant first, are shown; when not even one
piece fits, the scope that was too large is reported with its size in tokens.

Every edit must then lie inside a window (:class:`WindowGuard`): the model only changes code it
was shown. Lines here are 1-based and inclusive. Pure, except for the tokenizer protocol.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.fix.edits import Applied, Method
from bot.fix.localise import SearchHit, definitions_of, named_symbols
from bot.llm import Tokenizer
from indexer.errors import GrammarError
from indexer.languages import language_for_path
from indexer.parsing import Definition, parse_source
from indexer.sparse import terms

CONTEXT_LINES = 3
WHOLE_FILE = "file"  # the kind of the pseudo-scope that shows a small file whole
MAX_SIGNATURES = 12
_DATA_KINDS = frozenset({"constant", "variable", "field", "property"})
PICK_WEIGHT = 5.0  # as much as a name in the issue: a small model picks poorly
SYMBOL_WEIGHT = 5.0
SEARCH_WEIGHT = 6.0
LEXICAL_WEIGHT = 4.0
FILE_WEIGHT = 1.0
_RRF_K = 2.0


@dataclass(frozen=True, slots=True)
class Scope:
    """A function, method or class of a file, with why it was chosen."""

    path: str
    qualname: str
    kind: str
    start_line: int  # its leading comments and decorators included
    end_line: int
    signature: str
    score: float = 0.0
    reasons: tuple[str, ...] = ()

    @property
    def lines(self) -> int:
        return self.end_line - self.start_line + 1

    def label(self) -> str:
        lines = f"lines {self.start_line}-{self.end_line}"
        return f"{self.kind} `{self.qualname}` in {self.path} ({lines})"


@dataclass(frozen=True, slots=True)
class Window:
    """Lines ``start_line``..``end_line`` of ``path`` shown to the model, and for which scopes."""

    path: str
    start_line: int
    end_line: int
    scopes: tuple[str, ...]
    note: str = ""  # "part 2 of 5 of ...", "trimmed": what the model sees is not the whole scope

    def contains(self, other: Window) -> bool:
        return (
            self.path == other.path
            and self.start_line <= other.start_line
            and other.end_line <= self.end_line
        )

    def title(self) -> str:
        what = ", ".join(f"`{name}`" for name in self.scopes) or "code"
        note = f"; {self.note}" if self.note else ""
        return f"{self.path} lines {self.start_line}-{self.end_line} ({what}{note})"


@dataclass(frozen=True, slots=True)
class TooLarge:
    """Not even one piece of the most relevant scope fits: what it was and what it needs."""

    scope: str
    tokens: int
    budget: int

    def message(self) -> str:
        return (
            f"{self.scope} needs {self.tokens} tokens but only {self.budget} fit in the "
            "model's context beside the instructions, the issue and the answer"
        )


@dataclass(frozen=True, slots=True)
class Fitted:
    windows: tuple[Window, ...]
    signatures: str  # "path:line: signature" of what the windows use, outside them
    notes: tuple[str, ...] = ()
    too_large: TooLarge | None = None


# --- scopes -----------------------------------------------------------------------------------


def whole_file(path: str, text: str) -> Scope:
    """A small file shown whole (imports and module code included); never split."""
    return Scope(path, "(whole file)", WHOLE_FILE, 1, text.count("\n") + 1, "")


def scopes_of(path: str, text: str) -> list[Scope]:
    """The file's functions, methods and classes with their full line ranges."""
    out = []
    for d in definitions_of(path, text):
        if d.kind in _DATA_KINDS:
            continue
        start = min(d.doc_start_line, d.start_line) + 1
        out.append(Scope(path, d.qualname, d.kind, start, d.end_line + 1, d.signature))
    return out


def _bm25(query: set[str], docs: Sequence[Counter[str]]) -> list[float]:
    if not query or not docs:
        return [0.0] * len(docs)
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(t for t in doc if t in query)
    lengths = [max(1, sum(doc.values())) for doc in docs]
    average = sum(lengths) / len(lengths)
    n = len(docs)
    scores = []
    for doc, length in zip(docs, lengths, strict=True):
        score = 0.0
        for term in query:
            tf = doc.get(term, 0)
            if tf:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
        scores.append(score)
    return scores


@dataclass
class _Tally:
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def add(self, weight: float, reason: str) -> None:
        self.score += weight
        if reason not in self.reasons:
            self.reasons.append(reason)


def rank_scopes(
    issue_text: str,
    files: Sequence[tuple[str, str]],
    *,
    picked: Mapping[str, Sequence[str]] | None = None,
    hits: Sequence[SearchHit] = (),
    limit: int = 12,
) -> list[Scope]:
    """The scopes of ``files`` (path, text; most likely file first) most likely to need the
    fix, best first. Signals, added up per scope: the model's pick of symbols in the file
    (``picked``: path -> names), the names the issue mentions, the search hits inside the
    scope (reciprocal rank), a BM25 ranking of the scopes' text against the issue, and the
    file's own rank. A scope nested in another is ranked on its own: a method can win over
    its class."""
    picked = picked or {}
    strong, weak = named_symbols(issue_text)
    query = set(terms(issue_text))
    scopes: list[Scope] = []
    docs: list[Counter[str]] = []
    file_rank: dict[str, int] = {}
    for rank, (path, text) in enumerate(files):
        file_rank.setdefault(path, rank)
        lines = text.split("\n")
        for scope in scopes_of(path, text):
            scopes.append(scope)
            body = "\n".join(lines[scope.start_line - 1 : scope.end_line])
            docs.append(Counter(terms(body)))
    tally = [_Tally() for _ in scopes]
    for index, scope in enumerate(scopes):
        name = scope.qualname.rsplit(".", 1)[-1]
        wanted = {s.strip("()") for s in picked.get(scope.path, ())}
        if name in wanted or scope.qualname in wanted:
            tally[index].add(PICK_WEIGHT, "chosen by the model")
        if name in strong or scope.qualname in strong:
            tally[index].add(SYMBOL_WEIGHT, "named in the issue")
        elif name in weak:
            tally[index].add(SYMBOL_WEIGHT / 4, "its name is in the issue")
        tally[index].add(FILE_WEIGHT / (1 + file_rank[scope.path]), "")
    hit_rank = 0
    for hit in hits:
        inside = [
            i
            for i, s in enumerate(scopes)
            if s.path == hit.path and s.start_line <= hit.end_line and hit.start_line <= s.end_line
        ]
        if not inside:
            continue
        for i in inside:
            tally[i].add(SEARCH_WEIGHT / (_RRF_K + hit_rank), f"search rank {hit_rank + 1}")
        hit_rank += 1
    lexical = _bm25(query, docs)
    order = sorted((i for i, s in enumerate(lexical) if s > 0), key=lambda i: -lexical[i])
    for rank, i in enumerate(order[:20]):
        tally[i].add(LEXICAL_WEIGHT / (_RRF_K + rank), f"lexical rank {rank + 1}")
    ranked = [
        Scope(
            s.path,
            s.qualname,
            s.kind,
            s.start_line,
            s.end_line,
            s.signature,
            t.score,
            tuple(r for r in t.reasons if r),
        )
        for s, t in zip(scopes, tally, strict=True)
    ]
    ranked.sort(key=lambda s: (-s.score, s.lines, s.path, s.start_line))
    return ranked[:limit]


# --- windows ----------------------------------------------------------------------------------


def window_for(scope: Scope, total_lines: int, *, context: int = CONTEXT_LINES) -> Window:
    start = max(1, scope.start_line - context)
    end = min(total_lines, scope.end_line + context)
    return Window(scope.path, start, end, (scope.qualname,))


def merge(windows: Sequence[Window]) -> list[Window]:
    """Overlapping or touching windows of one file become one; order: file, then line."""
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: (w.path, w.start_line, w.end_line)):
        last = out[-1] if out else None
        if last is not None and last.path == w.path and w.start_line <= last.end_line + 1:
            names = last.scopes + tuple(n for n in w.scopes if n not in last.scopes)
            notes = [n for n in last.note.split("; ") if n]
            note = "; ".join([*notes, *([w.note] if w.note and w.note not in notes else [])])
            out[-1] = Window(w.path, last.start_line, max(last.end_line, w.end_line), names, note)
        else:
            out.append(w)
    return out


def _count(texts: Mapping[str, str], scope: Scope) -> int:
    return texts[scope.path].count("\n") + 1


def render(window: Window, text: str) -> str:
    lines = text.split("\n")
    return "\n".join(lines[window.start_line - 1 : window.end_line])


def _pieces(window: Window, definitions: Sequence[Definition]) -> list[Window]:
    """``window`` split along its structure: the direct children among ``definitions``
    (with the lines between them as pieces of their own), else the statements of the
    innermost definition covering it, else two halves. One line cannot be split."""
    lo, hi = window.start_line, window.end_line
    if hi <= lo:
        return []
    inner = [
        d
        for d in definitions
        if lo <= d.doc_start_line + 1
        and d.end_line + 1 <= hi
        and (d.end_line + 1, d.doc_start_line + 1) != (hi, lo)
    ]
    children = [
        d
        for d in inner
        if not any(
            o is not d and o.start_line <= d.start_line and d.end_line <= o.end_line for o in inner
        )
    ]
    cuts: list[int] = []
    if children:
        for d in sorted(children, key=lambda d: d.start_line):
            cuts += [min(d.doc_start_line, d.start_line) + 1, d.end_line + 2]
    else:
        covering = [
            d
            for d in definitions
            if d.start_line + 1 <= lo + CONTEXT_LINES and hi - CONTEXT_LINES <= d.end_line + 1
        ]
        if covering:
            innermost = min(covering, key=lambda d: d.end_line - d.start_line)
            cuts = [b + 1 for b in innermost.breaks]
    bounds = sorted({c for c in cuts if lo < c <= hi})
    if not bounds:
        bounds = [lo + (hi - lo + 1) // 2]
    pieces = []
    start = lo
    for cut in [*bounds, hi + 1]:
        if cut > start:
            pieces.append(Window(window.path, start, cut - 1, window.scopes, window.note))
            start = cut
    return pieces if len(pieces) > 1 else []


def used_signatures(
    windows: Sequence[Window], texts: Mapping[str, str], *, limit: int = MAX_SIGNATURES
) -> str:
    """The signatures of what the windows call or name that is defined outside them, in
    the same files: ``path:line: signature`` lines (the model sees how to call them)."""
    out: list[str] = []
    for path in dict.fromkeys(w.path for w in windows):
        text = texts.get(path)
        language = language_for_path(path)
        if text is None or language is None:
            continue
        try:
            parsed = parse_source(text.encode("utf-8", "replace"), language)
        except (GrammarError, ValueError):
            continue
        mine = [w for w in windows if w.path == path]

        def shown(line: int, mine: Sequence[Window] = mine) -> bool:
            return any(w.start_line <= line <= w.end_line for w in mine)

        used = {r.name for r in parsed.references if shown(r.line + 1)}
        for d in parsed.definitions:
            if d.kind in _DATA_KINDS or d.name not in used or shown(d.start_line + 1):
                continue
            entry = f"{path}:{d.start_line + 1}: {d.signature.strip()}"
            if entry not in out:
                out.append(entry)
            if len(out) >= limit:
                return "\n".join(out)
    return "\n".join(out)


Measure = Callable[[Sequence[Window], str], Awaitable[int]]


async def fit_windows(
    scopes: Sequence[Scope],
    texts: Mapping[str, str],
    *,
    measure: Measure,
    budget: int,
    tokenizer: Tokenizer,
    max_windows: int = 6,
    context: int = CONTEXT_LINES,
    query: str = "",
) -> Fitted:
    """The windows of ``scopes`` (best first) that fit: ``measure(windows, signatures)``
    gives the prompt's exact size in tokens with them, which must stay within ``budget``.

    The most relevant scope is always shown, split along its structure when it is too large
    (the pieces most relevant to it first, in file order when shown); the others are added
    whole while they fit. When not even one line of it fits, ``too_large`` says which scope
    and how many tokens it needs.
    """
    chosen: list[Window] = []
    notes: list[str] = []
    left_out: list[Scope] = []
    definitions: dict[str, tuple[Definition, ...]] = {}

    async def fits(candidate: Sequence[Window]) -> tuple[bool, str]:
        merged = merge(candidate)
        signatures = used_signatures(merged, texts)
        if await measure(merged, signatures) <= budget:
            return True, signatures
        # Code before signatures: what the edit changes matters more than how it calls the
        # rest; the signatures that still fit are added at the end.
        if signatures and await measure(merged, "") <= budget:
            return True, ""
        return False, ""

    signatures = ""
    for scope in scopes:
        if len(chosen) >= max_windows:
            break
        text = texts.get(scope.path)
        if text is None:
            continue
        window = window_for(scope, text.count("\n") + 1, context=context)
        if any(w.contains(window) for w in chosen):
            continue
        ok, sig = await fits([*chosen, window])
        if ok:
            chosen.append(window)
            signatures = sig
            continue
        if chosen or scope.kind == WHOLE_FILE:
            left_out.append(scope)
            continue
        if scope.path not in definitions:
            definitions[scope.path] = definitions_of(scope.path, text)
        pieces, sig, note = await _split_to_fit(
            scope, text, definitions[scope.path], fits, tokenizer, set(terms(query))
        )
        if not pieces:
            size = len(await tokenizer.encode(render(window, text)))
            free = budget - await measure([], "")
            return Fitted((), "", tuple(notes), TooLarge(scope.label(), size, max(0, free)))
        chosen.extend(pieces)
        signatures = sig
        notes.append(note)
    if left_out:
        first = left_out[0]
        size = len(
            await tokenizer.encode(
                render(window_for(first, _count(texts, first)), texts[first.path])
            )
        )
        more = f" and {len(left_out) - 1} more" if len(left_out) > 1 else ""
        notes.append(f"{first.label()} ({size} tokens){more} left out: no room beside the others")
    merged = merge(chosen)
    if not signatures:
        signatures = await _signatures_that_fit(merged, texts, measure, budget)
    return Fitted(tuple(merged), signatures, tuple(notes))


async def _signatures_that_fit(
    windows: Sequence[Window], texts: Mapping[str, str], measure: Measure, budget: int
) -> str:
    """As many of the windows' signatures (in order) as fit beside them; "" when none."""
    lines = used_signatures(windows, texts).splitlines()
    while lines:
        text = "\n".join(lines)
        if await measure(windows, text) <= budget:
            return text
        lines = lines[: len(lines) // 2] if len(lines) > 1 else []
    return ""


MAX_SPLIT_TRIES = 64  # prompt measurements spent on splitting one scope


def _relevance(window: Window, lines: Sequence[str], query: set[str]) -> float:
    """How much of the issue's vocabulary the piece holds, per square root of its size."""
    body = lines[window.start_line - 1 : window.end_line]
    words = Counter(t for line in body for t in terms(line))
    hits = sum(count for term, count in words.items() if term in query)
    return hits / math.sqrt(max(1, sum(words.values())))


async def _split_to_fit(
    scope: Scope,
    text: str,
    definitions: Sequence[Definition],
    fits: Callable[[Sequence[Window]], Awaitable[tuple[bool, str]]],
    tokenizer: Tokenizer,
    query: set[str],
) -> tuple[list[Window], str, str]:
    """Pieces of ``scope`` that fit together: the piece holding its first line (the
    signature), then the others most relevant to the issue first; a piece that does not fit
    is split again (by structure, then halves), one that cannot be split is left out."""
    lines = text.split("\n")
    part = f"part of `{scope.qualname}`"
    whole = Window(scope.path, scope.start_line, scope.end_line, (scope.qualname,), part)
    pieces = _pieces(whole, definitions) or [whole]

    def relevance(window: Window) -> float:
        return -_relevance(window, lines, query)

    queue = [pieces[0], *sorted(pieces[1:], key=relevance)]
    kept: list[Window] = []
    signatures = ""
    tries = 0
    while queue and tries < MAX_SPLIT_TRIES:
        piece = queue.pop(0)
        tries += 1
        ok, sig = await fits([*kept, piece])
        if ok:
            kept.append(piece)
            signatures = sig
            continue
        queue = sorted(_pieces(piece, definitions) + queue, key=relevance)
    inside = sum(w.end_line - w.start_line + 1 for w in kept)
    if inside < min(2, scope.lines):
        # Not even the scope's first line and one more fit: nothing useful can be shown.
        return [], "", ""
    size = len(await tokenizer.encode(render(whole, text)))
    shown = ", ".join(f"{w.start_line}-{w.end_line}" for w in merge(kept))
    note = (
        f"{scope.label()} is {size} tokens, too large for the context: lines {shown} shown "
        f"({inside} of {scope.lines} lines)"
    )
    return kept, signatures, note


# --- edits inside windows ---------------------------------------------------------------------


class WindowGuard:
    """Checks that each applied edit replaced lines inside a window of its file, and moves the
    windows as edits change line counts. New files (nothing shown, nothing replaced) pass.
    Called as ``apply_edits(..., within=guard)``."""

    def __init__(self, windows: Sequence[Window]) -> None:
        self._ranges: dict[str, list[list[int]]] = {}
        for w in windows:
            self._ranges.setdefault(w.path, []).append([w.start_line, w.end_line])

    def shown(self, path: str) -> str:
        ranges = self._ranges.get(path, [])
        return ", ".join(f"{lo}-{hi}" for lo, hi in ranges) or "none"

    def __call__(self, applied: Applied) -> str | None:
        """None when the lines ``applied`` replaced (in the file as edited so far) lie in one
        window (then the windows after them shift by the change in length); else why not."""
        if applied.method is Method.CREATED:
            return None
        path, start, end = applied.block.path, applied.start_line, applied.end_line
        new_count = applied.new_count
        ranges = self._ranges.get(path)
        if not ranges:
            return f"{path} was not shown: edit only the code shown, or create a new file"
        for r in ranges:
            if r[0] <= start and end <= r[1]:
                delta = new_count - (end - start + 1)
                r[1] += delta
                for other in ranges:
                    if other is not r and other[0] > end:
                        other[0] += delta
                        other[1] += delta
                return None
        return (
            f"the SEARCH text was found at lines {start}-{end}, outside the code shown "
            f"(lines {self.shown(path)} of {path}): edit only inside those lines"
        )
