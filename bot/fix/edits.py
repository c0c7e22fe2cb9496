"""SEARCH/REPLACE edit blocks applied to file text. Pure: text in, text or a reason out.

A block says "replace these lines with those" without line numbers, so it is placed by its
text, in tiers from strict to tolerant; the first tier that finds the block decides:

1. ``exact``: the block's lines equal consecutive lines of the file.
2. ``whitespace``: equal once trailing whitespace is dropped and runs of inner whitespace
   count as one space (indentation must still be equal); blank lines that open or close the
   block are not required to match.
3. ``indentation``: equal ignoring indentation, when the file's lines are the block's lines
   all shifted by one consistent indentation prefix (models drift whole blocks in or out);
   the replacement is shifted the same way.
4. ``elided``: the block skips unchanged lines with a ``...`` line (``# ... existing code``);
   each piece is placed in order by tiers 1-3 and the skipped lines are kept. The
   replacement must skip at the same places.
5. ``trimmed``: the block's first or last line is unchanged context (the same in SEARCH and
   REPLACE) that does not follow in the file (a model recalled a wrong neighbouring line);
   without it, at least two lines and 24 characters of the block are placed by tiers 1-3.

A tier that finds the block at two or more places rejects it as ambiguous (looser tiers
would find it there too): an edit is never applied at a guessed place. A block found nowhere
is rejected with the nearest real text, so the model can be asked again with what is there.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# What models write for "the code I left out": an optional comment opener, an ellipsis,
# optionally one of these words and more plain words, optionally a closing ellipsis and
# comment closer. Matched by hand in one pass over the line: a regex for it backtracked
# (seconds on a 2,000-character line of model output).
_ELISION_WORDS = ("existing", "rest", "unchanged", "remaining", "other", "more", "same")
_ELISION_OPENERS = ("<!--", "/*", "//", "#", "--")
_ELISION_CLOSERS = ("*/", "-->")
_ELLIPSES = ("...", "\u2026")
_ELISION_TEXT = frozenset(".,'-")


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _is_elision(line: str) -> bool:
    """True when ``line`` is an elision marker such as ``# ... existing code ...``."""
    s = line.strip()
    for opener in _ELISION_OPENERS:
        if s.startswith(opener):
            s = s[len(opener) :].lstrip()
            break
    ellipsis = next((e for e in _ELLIPSES if s.startswith(e)), None)
    if ellipsis is None:
        return False
    s = s[len(ellipsis) :].strip()
    for closer in _ELISION_CLOSERS:
        if s.endswith(closer):
            s = s[: -len(closer)].rstrip()
            break
    for end in _ELLIPSES:
        if s.endswith(end):
            s = s[: -len(end)].rstrip()
            break
    if not s:
        return True
    lowered = s.lower()
    word = next((w for w in _ELISION_WORDS if lowered.startswith(w)), None)
    if word is None or (len(s) > len(word) and _word_char(s[len(word)])):
        return False
    return all(_word_char(ch) or ch.isspace() or ch in _ELISION_TEXT for ch in s[len(word) :])


_MIN_TRIMMED_LINES = 2
_MIN_TRIMMED_CHARS = 24
_MAX_NEAREST_FILE_LINES = 20_000


class Method(enum.StrEnum):
    EXACT = "exact"
    WHITESPACE = "whitespace"
    INDENTATION = "indentation"
    ELIDED = "elided"
    TRIMMED = "trimmed"
    CREATED = "created"


class Problem(enum.StrEnum):
    NO_MATCH = "no-match"
    AMBIGUOUS = "ambiguous"
    MISSING_FILE = "missing-file"
    EMPTY_SEARCH = "empty-search"
    BAD_ELISION = "bad-elision"
    REINDENT = "reindent"
    REFUSED_PATH = "refused-path"
    OUTSIDE_WINDOW = "outside-window"


@dataclass(frozen=True, slots=True)
class EditBlock:
    path: str
    search: str
    replace: str


@dataclass(frozen=True, slots=True)
class Applied:
    block: EditBlock
    method: Method
    start_line: int  # 1-based first line of the file that was replaced (0 for a new file)
    changed: bool  # False when the replacement equals what was there
    end_line: int = 0  # 1-based last line replaced (start_line - 1 when only inserted)
    new_count: int = 0  # lines that replaced them


@dataclass(frozen=True, slots=True)
class Rejected:
    block: EditBlock
    problem: Problem
    detail: str
    nearest: str = ""  # the closest real text of the file, for the retry


@dataclass(frozen=True, slots=True)
class EditOutcome:
    files: Mapping[str, str]  # path -> new text, for every file whose text changed
    applied: tuple[Applied, ...]
    rejected: tuple[Rejected, ...]
    originals: Mapping[str, str | None] = field(default_factory=dict)  # before, per path read

    @property
    def complete(self) -> bool:
        return not self.rejected


# --- text as lines -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    lines: list[str]
    newline: str
    final_newline: bool

    @classmethod
    def of(cls, text: str) -> _Text:
        newline = "\r\n" if "\r\n" in text else "\n"
        return cls(split_lines(text), newline, text.endswith("\n") or not text)

    def render(self, lines: Sequence[str]) -> str:
        if not lines:
            return ""
        return self.newline.join(lines) + (self.newline if self.final_newline else "")


def split_lines(text: str) -> list[str]:
    """Lines without their endings (``\\n`` or ``\\r\\n``); no phantom line after the last."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _collapsed(line: str) -> str:
    return " ".join(line.split())


def _ws_key(line: str) -> str:
    rest = _collapsed(line)
    return _indent(line) + rest if rest else ""


def _blank(line: str) -> bool:
    return not line.strip()


# --- placing a block -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Place:
    start: int
    end: int
    replacement: list[str]


_Finder = Callable[[list[str], list[str], list[str]], list[_Place] | str]


def _windows(lines: list[str], search: list[str], key: Callable[[str], str]) -> list[int]:
    if not search or len(search) > len(lines):
        return []
    keys = [key(line) for line in lines]
    wanted = [key(line) for line in search]
    n = len(wanted)
    return [
        i for i in range(len(keys) - n + 1) if keys[i] == wanted[0] and keys[i : i + n] == wanted
    ]


def _exact(lines: list[str], search: list[str], replace: list[str]) -> list[_Place] | str:
    return [_Place(i, i + len(search), list(replace)) for i in _windows(lines, search, str)]


def _trim_blank_edges(search: list[str], replace: list[str]) -> tuple[list[str], list[str]]:
    lead = 0
    while lead < len(search) and _blank(search[lead]):
        lead += 1
    tail = 0
    while tail < len(search) - lead and _blank(search[len(search) - 1 - tail]):
        tail += 1
    r_lead = 0
    while r_lead < min(lead, len(replace)) and _blank(replace[r_lead]):
        r_lead += 1
    r_tail = 0
    while r_tail < min(tail, len(replace) - r_lead) and _blank(replace[len(replace) - 1 - r_tail]):
        r_tail += 1
    return search[lead : len(search) - tail], replace[r_lead : len(replace) - r_tail]


def _whitespace(lines: list[str], search: list[str], replace: list[str]) -> list[_Place] | str:
    s, r = _trim_blank_edges(search, replace)
    return [_Place(i, i + len(s), list(r)) for i in _windows(lines, s, _ws_key)]


def _shift(file_lines: Sequence[str], search: Sequence[str]) -> tuple[str, str] | None:
    """("grow"|"shrink", prefix) when every non-blank file line is its search line with one
    indentation prefix added (grow) or removed (shrink); None otherwise."""
    found: tuple[str, str] | None = None
    for have, want in zip(file_lines, search, strict=True):
        if _blank(have) and _blank(want):
            continue
        fi, si = _indent(have), _indent(want)
        if len(fi) >= len(si) and fi.endswith(si):
            this = ("grow", fi[: len(fi) - len(si)])
        elif si.endswith(fi):
            this = ("shrink", si[: len(si) - len(fi)])
        else:
            return None
        if this[1] == "":
            this = ("grow", "")
        if found is None:
            found = this
        elif found != this:
            return None
    return found


def _reindent(replace: list[str], shift: tuple[str, str]) -> list[str] | None:
    mode, prefix = shift
    out: list[str] = []
    for line in replace:
        if _blank(line):
            out.append(line)
        elif mode == "grow":
            out.append(prefix + line)
        elif line.startswith(prefix):
            out.append(line[len(prefix) :])
        else:
            return None
    return out


def _indentation(lines: list[str], search: list[str], replace: list[str]) -> list[_Place] | str:
    s, r = _trim_blank_edges(search, replace)
    places: list[_Place] = []
    impossible = False
    for i in _windows(lines, s, _collapsed):
        shift = _shift(lines[i : i + len(s)], s)
        if shift is None:
            continue
        shifted = _reindent(r, shift)
        if shifted is None:
            impossible = True
            continue
        places.append(_Place(i, i + len(s), shifted))
    if not places and impossible:
        return "the block was found with other indentation, but REPLACE cannot be re-indented"
    return places


_TIERS: tuple[tuple[Method, _Finder], ...] = (
    (Method.EXACT, _exact),
    (Method.WHITESPACE, _whitespace),
    (Method.INDENTATION, _indentation),
)


@dataclass(frozen=True, slots=True)
class _Found:
    method: Method
    places: list[_Place]


def _find(lines: list[str], search: list[str], replace: list[str]) -> _Found | str | None:
    """The first tier that places the block (its places, one or more), a reason it cannot be
    placed, or None when no tier finds it."""
    for method, finder in _TIERS:
        result = finder(lines, search, replace)
        if isinstance(result, str):
            return result
        if result:
            return _Found(method, result)
    return None


def _segments(block: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for line in block:
        if _is_elision(line):
            parts.append([])
        else:
            parts[-1].append(line)
    return parts


def _has_code(block: Sequence[str]) -> bool:
    return any(not _blank(line) for line in block)


def _elided(lines: list[str], search: list[str], replace: list[str]) -> list[_Place] | str | None:
    if not any(_is_elision(line) for line in search):
        return None
    s_parts, r_parts = _segments(search), _segments(replace)
    if len(s_parts) != len(r_parts):
        return "SEARCH skips lines with `...` but REPLACE does not skip at the same places"
    pieces: list[tuple[list[str], list[str]]] = []
    for s, r in zip(s_parts, r_parts, strict=True):
        if _has_code(s):
            pieces.append((s, r))
        elif _has_code(r):
            return "REPLACE adds lines where SEARCH has none: quote the lines they follow"
    if not pieces:
        return "SEARCH holds nothing but `...`"
    # Anchor on a piece found exactly once; place the others nearest to it, in order.
    found = [_find(lines, s, r) for s, r in pieces]
    anchors = [i for i, f in enumerate(found) if isinstance(f, _Found) and len(f.places) == 1]
    if not anchors:
        for f in found:
            if isinstance(f, str):
                return f
        if all(isinstance(f, _Found) for f in found):
            first = found[0]
            assert isinstance(first, _Found)
            return first.places[:2]  # every piece occurs several times: ambiguous
        return []
    anchor = max(anchors, key=lambda i: sum(len(x.strip()) for x in pieces[i][0]))
    chosen = found[anchor]
    assert isinstance(chosen, _Found)
    placed: dict[int, _Place] = {anchor: chosen.places[0]}
    for index in range(anchor + 1, len(pieces)):
        cursor = placed[index - 1].end
        after = _find(lines[cursor:], *pieces[index])
        if not isinstance(after, _Found):
            return [] if after is None else after
        p = after.places[0]
        placed[index] = _Place(p.start + cursor, p.end + cursor, p.replacement)
    for index in range(anchor - 1, -1, -1):
        before = _find(lines[: placed[index + 1].start], *pieces[index])
        if not isinstance(before, _Found):
            return [] if before is None else before
        placed[index] = before.places[-1]
    ordered = [placed[i] for i in range(len(pieces))]
    out = list(lines)
    for place in reversed(ordered):
        out[place.start : place.end] = place.replacement
    start, end = ordered[0].start, ordered[-1].end + len(out) - len(lines)
    return [_Place(start, ordered[-1].end, out[start:end])]


def _substantial(block: list[str]) -> bool:
    body = [line for line in block if not _blank(line)]
    chars = sum(len("".join(line.split())) for line in body)
    return len(body) >= _MIN_TRIMMED_LINES and chars >= _MIN_TRIMMED_CHARS


def _trimmed(lines: list[str], search: list[str], replace: list[str]) -> list[_Place] | None:
    s, r = _trim_blank_edges(search, replace)
    if sum(1 for line in s if not _blank(line)) < _MIN_TRIMMED_LINES + 1 or not r:
        return None
    head, tail = s[0] == r[0], s[-1] == r[-1]
    singles = []
    if head:
        singles.append((s[1:], r[1:]))
    if tail:
        singles.append((s[:-1], r[:-1]))
    both = [(s[1:-1], r[1:-1])] if head and tail and len(s) > 2 and len(r) > 2 else []
    # Drop one line first; only when neither single drop places the block, drop both ends.
    for variants in (singles, both):
        places: list[_Place] = []
        for vs, vr in variants:
            if not _substantial(vs):
                continue
            found = _find(lines, vs, vr)
            if isinstance(found, _Found):
                places += found.places
        if places:
            return places  # one place, or several: ambiguous
    return None


# --- applying --------------------------------------------------------------------------------


def apply_edit(text: str | None, block: EditBlock) -> tuple[str, Applied] | Rejected:
    """``text`` with ``block`` applied (``text`` None: the file does not exist)."""
    search, replace = split_lines(block.search), split_lines(block.replace)
    if not any(not _blank(line) for line in search):
        if text is None or not text.strip():
            created = "\n".join(replace) + "\n" if replace else ""
            return created, Applied(
                block, Method.CREATED, 0, created != (text or ""), new_count=len(replace)
            )
        return Rejected(
            block,
            Problem.EMPTY_SEARCH,
            "SEARCH is empty but the file exists: quote the lines the new code goes after",
        )
    if text is None:
        return Rejected(block, Problem.MISSING_FILE, f"{block.path} does not exist")
    source = _Text.of(text)
    lines = source.lines
    found = _find(lines, search, replace)
    method = None
    places: list[_Place] = []
    if isinstance(found, str):
        return Rejected(block, Problem.REINDENT, found, nearest_text(text, block.search))
    if found is not None:
        method, places = found.method, found.places
    else:
        elided = _elided(lines, search, replace)
        if isinstance(elided, str):
            return Rejected(block, Problem.BAD_ELISION, elided, nearest_text(text, block.search))
        if elided:
            method, places = Method.ELIDED, elided
        else:
            trimmed = _trimmed(lines, search, replace)
            if trimmed:
                method, places = Method.TRIMMED, trimmed
    if method is None or not places:
        return Rejected(
            block,
            Problem.NO_MATCH,
            "SEARCH does not match the file",
            nearest_text(text, block.search),
        )
    if len(places) > 1:
        where = ", ".join(str(p.start + 1) for p in places[:5])
        return Rejected(
            block,
            Problem.AMBIGUOUS,
            f"SEARCH matches {len(places)} places (lines {where}): include more surrounding lines",
            _around(lines, [p.start for p in places[:3]], len(search)),
        )
    place = places[0]
    new_lines = lines[: place.start] + place.replacement + lines[place.end :]
    new_text = source.render(new_lines)
    return new_text, Applied(
        block, method, place.start + 1, new_text != text, place.end, len(place.replacement)
    )


def apply_edits(
    blocks: Iterable[EditBlock],
    read: Callable[[str], str | None],
    *,
    refuse: Callable[[str], str | None] = lambda _path: None,
    start: Mapping[str, str] | None = None,
    within: Callable[[Applied], str | None] | None = None,
) -> EditOutcome:
    """Apply ``blocks`` in order, each to the text its file has after the blocks before it.

    ``read(path)`` gives a file's original text (None: absent); ``refuse(path)`` a reason the
    path may not be edited (None: allowed); ``start`` holds texts already edited (a retry
    continues from them); ``within(applied)`` a reason a placed block may not be applied
    there (the edit prompt's windows: :class:`bot.fix.windows.WindowGuard`), None if it may.
    """
    originals: dict[str, str | None] = {}
    current: dict[str, str | None] = dict(start or {})
    applied: list[Applied] = []
    rejected: list[Rejected] = []
    for block in blocks:
        reason = refuse(block.path)
        if reason is not None:
            rejected.append(Rejected(block, Problem.REFUSED_PATH, reason))
            continue
        if block.path not in originals:
            originals[block.path] = read(block.path)
        text = current[block.path] if block.path in current else originals[block.path]
        result = apply_edit(text, block)
        if isinstance(result, Rejected):
            rejected.append(result)
            continue
        if within is not None and (outside := within(result[1])) is not None:
            rejected.append(Rejected(block, Problem.OUTSIDE_WINDOW, outside))
            continue
        current[block.path], done = result
        applied.append(done)
    for path in current:
        if path not in originals:
            originals[path] = read(path)
    changed = {
        path: text
        for path, text in current.items()
        if text is not None and text != originals.get(path)
    }
    return EditOutcome(changed, tuple(applied), tuple(rejected), originals)


# --- the nearest real text -------------------------------------------------------------------


def _around(lines: list[str], starts: Sequence[int], length: int, context: int = 2) -> str:
    pieces = []
    for start in starts:
        lo, hi = max(0, start - context), min(len(lines), start + length + context)
        pieces.append("\n".join(lines[lo:hi]))
    return "\n...\n".join(pieces)


def _similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < 0.3:
        return 0.0
    return matcher.ratio()


def nearest_text(text: str, search: str, *, context: int = 2) -> str:
    """The window of ``text`` most like ``search`` (line by line, whitespace ignored), with
    ``context`` lines around it; empty when nothing resembles it."""
    lines = split_lines(text)
    wanted = [_collapsed(line) for line in split_lines(search) if not _blank(line)]
    if not lines or not wanted or len(lines) > _MAX_NEAREST_FILE_LINES:
        return ""
    keys = [_collapsed(line) for line in lines]
    nonblank = [i for i, key in enumerate(keys) if key]
    n = len(wanted)
    best, best_score = -1, 0.0
    for pos in range(max(1, len(nonblank) - n + 1)):
        window = nonblank[pos : pos + n]
        score = sum(_similarity(w, keys[i]) for w, i in zip(wanted, window, strict=False)) / n
        if score > best_score:
            best, best_score = pos, score
    if best < 0 or best_score < 0.3:
        return ""
    window = nonblank[best : best + n]
    lo, hi = max(0, window[0] - context), min(len(lines), window[-1] + 1 + context)
    return "\n".join(lines[lo:hi])
