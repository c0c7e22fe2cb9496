"""Split a source file into chunks on syntax boundaries, each fitting the embedding model.

Every definition (function, method, class...) starts its own chunk; a definition that does
not fit is split into its children (methods of a class) and its own remaining lines, and a
leaf that still does not fit is packed greedily by lines, cutting preferably where a body
statement starts or after a blank line. Token counts come from the model's own tokenizer and
are exact: the WordPiece pre-tokenizer splits on whitespace, so a text's count is the sum of
its lines' counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from indexer.parsing import Definition, ParsedFile
from indexer.tokens import TokenCounter

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length, [CLS] and [SEP] included
_SPECIAL = 2
_MERGED_KINDS = frozenset({"constant", "field"})  # too small to stand alone: packed with code
MIN_FRAGMENT_TOKENS = 5  # code between definitions shorter than this (`}`, `impl X {`) is dropped


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a file. Lines are 1-based and inclusive."""

    path: str
    language: str
    start_line: int
    end_line: int
    symbol: str  # qualified name of the enclosing definition, "" at file level
    kind: str  # the definition's kind, or "code" / "text"
    signature: str
    code: str
    text: str  # what is embedded: path, symbol (and signature when cut) then the code

    @property
    def text_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class _Node:
    start: int
    end: int
    definition: Definition
    children: tuple[_Node, ...]


class _FileChunker:
    def __init__(
        self,
        path: str,
        language: str,
        source: str,
        counter: TokenCounter,
        max_tokens: int,
    ) -> None:
        self.path = path
        self.language = language
        self.lines = source.splitlines()
        self.counter = counter
        self.max_tokens = max_tokens
        counts = counter.count_lines(source)
        self.prefix = [0]
        for c in counts:
            self.prefix.append(self.prefix[-1] + c)
        self.line_tokens = counts
        self.out: list[Chunk] = []
        self._header_cache: dict[str, int] = {}

    # -- sizes -----------------------------------------------------------------------------
    def tokens(self, start: int, end: int) -> int:
        return self.prefix[end + 1] - self.prefix[start]

    def header(self, symbol: str, signature: str, continuation: bool) -> str:
        head = f"{self.path} {symbol}".rstrip()
        if continuation and signature:
            head += f"\n{signature}"
        return head

    def budget(self, head: str) -> int:
        n = self._header_cache.get(head)
        if n is None:
            n = self.counter.count([head])[0]
            self._header_cache[head] = n
        return self.max_tokens - _SPECIAL - n

    # -- emission --------------------------------------------------------------------------
    def emit(self, start: int, end: int, symbol: str, kind: str, signature: str, head: str) -> None:
        code = "\n".join(self.lines[start : end + 1])
        budget = self.budget(head)
        if self.tokens(start, end) > budget:  # one line longer than the model's window
            code = self.counter.truncate(code, budget)
        self.out.append(
            Chunk(
                path=self.path,
                language=self.language,
                start_line=start + 1,
                end_line=end + 1,
                symbol=symbol,
                kind=kind,
                signature=signature,
                code=code,
                text=f"{head}\n{code}",
            )
        )

    def node(self, node: _Node) -> None:
        d = node.definition
        head = self.header(d.qualname, d.signature, False)
        # Namespaces and modules are containers: their members are always chunks of their own.
        if d.kind != "module" and self.tokens(node.start, node.end) <= self.budget(head):
            self.emit(node.start, node.end, d.qualname, d.kind, d.signature, head)
            return
        self.region(node.start, node.end, node.children, d, frozenset(d.breaks))

    def region(
        self,
        start: int,
        end: int,
        children: tuple[_Node, ...],
        owner: Definition | None,
        breaks: frozenset[int],
    ) -> None:
        cursor = start
        for child in children:
            if child.start > cursor:
                self.pack(cursor, child.start - 1, owner, breaks)
            self.node(child)
            cursor = child.end + 1
        if cursor <= end:
            self.pack(cursor, end, owner, breaks)

    def pack(self, start: int, end: int, owner: Definition | None, breaks: frozenset[int]) -> None:
        lines = self.lines
        symbol = owner.qualname if owner else ""
        signature = owner.signature if owner else ""
        kind = owner.kind if owner else ("code" if self.language_parsed else "text")
        owner_start = owner.start_line if owner else -1
        cur = start
        while cur <= end:
            while cur <= end and not lines[cur].strip():
                cur += 1
            if cur > end:
                return
            last = end
            while not lines[last].strip():
                last -= 1
            head = self.header(symbol, signature, cur > owner_start >= 0 and cur != owner_start)
            budget = self.budget(head)
            j, total = cur, 0
            while j <= last and total + self.line_tokens[j] <= budget:
                total += self.line_tokens[j]
                j += 1
            if j > last:
                if total >= MIN_FRAGMENT_TOKENS or (owner is None and not self.out):
                    self.emit(cur, last, symbol, kind, signature, head)
                return
            if j == cur:  # a single line over budget: truncated on its own
                self.emit(cur, cur, symbol, kind, signature, head)
                cur += 1
                continue
            cut = j - 1
            for b in range(j, cur + (j - cur) // 2, -1):
                if b in breaks or not lines[b - 1].strip():
                    cut = b - 1
                    break
            while cut > cur and not lines[cut].strip():
                cut -= 1
            self.emit(cur, cut, symbol, kind, signature, head)
            cur = cut + 1

    language_parsed = False


@dataclass(slots=True)
class _Entry:
    definition: Definition
    children: list[_Entry]


def _tree(definitions: tuple[Definition, ...], n_lines: int) -> tuple[_Node, ...]:
    """Nest definitions by line containment; constants and fields stay in their parent."""
    defs = [d for d in definitions if d.kind not in _MERGED_KINDS]
    defs.sort(key=lambda d: (d.start_line, -d.end_line))
    roots: list[_Entry] = []
    stack: list[_Entry] = []
    for d in defs:
        while stack and stack[-1].definition.end_line < d.start_line:
            stack.pop()
        if stack and d.end_line > stack[-1].definition.end_line:
            continue  # overlaps its parent without being nested: not a structural unit
        entry = _Entry(d, [])
        (stack[-1].children if stack else roots).append(entry)
        stack.append(entry)

    def build(entries: list[_Entry], floor: int) -> tuple[_Node, ...]:
        out: list[_Node] = []
        prev_end = floor - 1
        for e in entries:
            d = e.definition
            if d.start_line <= prev_end:
                continue
            start = max(d.doc_start_line, prev_end + 1)
            end = min(d.end_line, n_lines - 1)
            out.append(_Node(start, end, d, build(e.children, d.start_line + 1)))
            prev_end = end
        return tuple(out)

    return build(roots, 0)


def chunk_file(
    path: str,
    source: str,
    *,
    language: str,
    counter: TokenCounter,
    parsed: ParsedFile | None = None,
    max_tokens: int = MAX_TOKENS,
) -> list[Chunk]:
    """Chunks of one file. Without `parsed` (or when it failed to parse): line windows."""
    lines = source.splitlines()
    if not lines:
        return []
    chunker = _FileChunker(path, language, source, counter, max_tokens)
    if parsed is None or parsed.has_error:
        chunker.language_parsed = parsed is not None
        chunker.pack(0, len(lines) - 1, None, frozenset(parsed.top_breaks if parsed else ()))
        out = chunker.out
        if parsed is not None:
            out = [_with_enclosing(c, parsed.definitions) for c in out]
        return out
    chunker.language_parsed = True
    roots = _tree(parsed.definitions, len(lines))
    chunker.region(0, len(lines) - 1, roots, None, frozenset(parsed.top_breaks))
    return chunker.out


def _with_enclosing(chunk: Chunk, definitions: tuple[Definition, ...]) -> Chunk:
    line = chunk.start_line - 1
    best: Definition | None = None
    for d in definitions:
        if d.start_line <= line <= d.end_line and (
            best is None or d.end_line - d.start_line < best.end_line - best.start_line
        ):
            best = d
    if best is None:
        return chunk
    return replace(chunk, symbol=best.qualname, signature=best.signature)
