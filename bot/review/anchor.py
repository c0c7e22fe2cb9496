"""Place a finding on the right line by the code it quotes, not the line number it claims.

Models misnumber lines and drift whitespace; the quoted code is what they get right. A finding
is placed only on new-side lines of the diff that the forge accepts, and only where the match
touches changed (added) code: findings about unchanged code are dropped. Pure.
"""

from __future__ import annotations

import difflib
import enum
import re
from dataclasses import dataclass

from bot.review.diff import DiffLine, FileDiff, LineKind

_SPACE = re.compile(r"\s+")
FUZZY_RATIO = 0.88  # per line, after whitespace normalisation


class Miss(enum.StrEnum):
    EMPTY_QUOTE = "the finding quotes no code"
    NOT_FOUND = "the quoted code is not in the diff"
    UNCHANGED = "the quoted code is not changed by this diff"
    AMBIGUOUS = "the quoted code occurs more than once and no line number decides"


@dataclass(frozen=True, slots=True)
class Anchor:
    path: str
    start_line: int  # new side, 1-based
    end_line: int  # inclusive; equal to start_line for a single line
    exact: bool  # matched after whitespace normalisation alone, not fuzzily


@dataclass(frozen=True, slots=True)
class Unplaced:
    path: str
    reason: Miss


def normalise(line: str) -> str:
    return _SPACE.sub(" ", line).strip()


def _quote_lines(quote: str) -> list[str]:
    lines = [normalise(line) for line in quote.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _line_matches(quoted: str, actual: str, *, fuzzy: bool) -> bool:
    if quoted == actual:
        return True
    if not fuzzy or not quoted or not actual:
        return False
    if len(quoted) >= 12 and quoted in actual:  # a quoted fragment of a longer line
        return True
    return difflib.SequenceMatcher(None, quoted, actual, autojunk=False).ratio() >= FUZZY_RATIO


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int
    touches_added: bool
    exact: bool


def _windows(block: tuple[DiffLine, ...], quoted: list[str], *, fuzzy: bool) -> list[_Candidate]:
    found = []
    texts = [normalise(line.text) for line in block]
    size = len(quoted)
    for i in range(len(block) - size + 1):
        if all(_line_matches(q, texts[i + k], fuzzy=fuzzy) for k, q in enumerate(quoted)):
            span = block[i : i + size]
            start, end = span[0].new_no, span[-1].new_no
            if start is None or end is None:
                continue
            touches = any(line.kind is LineKind.ADDED for line in span)
            found.append(_Candidate(start, end, touches, exact=not fuzzy))
    return found


def place(file: FileDiff, quote: str, line_hint: int | None = None) -> Anchor | Unplaced:
    """Where in ``file`` the quoted code is, nearest ``line_hint`` when it occurs twice."""
    quoted = _quote_lines(quote)
    if not quoted:
        return Unplaced(file.path, Miss.EMPTY_QUOTE)
    # Blank lines inside a quote carry no information but break alignment: drop them, and
    # match against the new side with blank lines dropped too.
    quoted = [q for q in quoted if q]
    candidates: list[_Candidate] = []
    for fuzzy in (False, True):
        for hunk in file.hunks:
            block = tuple(line for line in hunk.new_side() if normalise(line.text))
            candidates.extend(_windows(block, quoted, fuzzy=fuzzy))
        if candidates:
            break
    if not candidates:
        return Unplaced(file.path, Miss.NOT_FOUND)
    changed = [c for c in candidates if c.touches_added]
    if not changed:
        return Unplaced(file.path, Miss.UNCHANGED)
    if len(changed) > 1:
        if line_hint is None:
            return Unplaced(file.path, Miss.AMBIGUOUS)

        def distance(c: _Candidate) -> int:
            return (
                0
                if c.start <= line_hint <= c.end
                else min(abs(c.start - line_hint), abs(c.end - line_hint))
            )

        changed.sort(key=lambda c: (distance(c), c.start))
        # The same code twice: trust the line number only when it lands on one copy. Models'
        # numbers drift by many lines, so "nearest" picks the wrong copy too often, and a
        # wrong line is worse than none: an unplaced finding is listed in the summary.
        if distance(changed[0]) > 0 or distance(changed[1]) == 0:
            return Unplaced(file.path, Miss.AMBIGUOUS)
    best = changed[0]
    return Anchor(file.path, best.start, best.end, best.exact)
