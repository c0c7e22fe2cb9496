"""Definitions and references of one source file, from the grammar's own tags query.

Pure: bytes in, frozen dataclasses out. Each definition carries its full syntax node span
(climbing from the tags capture to the enclosing declaration), its qualified name (nested
inside classes/modules), a one-line signature and its docstring or leading comment.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import tree_sitter as ts

from indexer.errors import ParseTimeout
from indexer.languages import grammar

# Nodes that wrap a tags capture without being a new definition (C declarators, JS
# `const f = () => ...`, decorators, exports, templates): the definition's span grows to them.
_WRAPPERS = frozenset(
    {
        "function_definition",
        "pointer_declarator",
        "reference_declarator",
        "function_declarator",
        "decorated_definition",
        "template_declaration",
        "export_statement",
        "lexical_declaration",
        "variable_declaration",
        "variable_declarator",
        "field_declaration",
        "declaration",
        "type_definition",
    }
)
_SCOPE_KINDS = frozenset({"class", "interface", "module", "type"})
_BODY_FIELDS = ("body", "block", "value")
_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment", "doc_comment"})
_WS = re.compile(r"\s+")
_MAX_SIGNATURE = 200


@dataclass(frozen=True, slots=True)
class Definition:
    """One defined symbol. Lines are 0-based and inclusive."""

    name: str
    qualname: str
    kind: str
    start_line: int
    end_line: int
    signature: str
    docstring: str
    doc_start_line: int  # first line of the leading comment, == start_line when none
    breaks: tuple[int, ...]  # lines where a statement of the body starts (split points)


@dataclass(frozen=True, slots=True)
class Reference:
    name: str
    kind: str
    line: int


@dataclass(frozen=True, slots=True)
class ParsedFile:
    language: str
    definitions: tuple[Definition, ...]
    references: tuple[Reference, ...]
    has_error: bool
    top_breaks: tuple[int, ...]  # lines where a top-level statement starts


_CHUNK = 64 * 1024


def _parse_tree(parser: ts.Parser, source: bytes, timeout_s: float | None) -> ts.Tree:
    if timeout_s is None:
        return parser.parse(source)
    expired = _deadline(timeout_s)
    try:
        # Tree-sitter only reports progress (and can be cancelled) when it reads in chunks.
        return parser.parse(
            lambda offset, _point: source[offset : offset + _CHUNK],
            progress_callback=lambda *_state: expired(),
        )
    except ValueError as exc:  # "Parsing failed": the callback cancelled it
        raise ParseTimeout(f"parsing took over {timeout_s:g} s") from exc


def _deadline(timeout_s: float) -> Callable[[], bool]:
    end = time.monotonic() + timeout_s
    return lambda: time.monotonic() > end


def parse_source(source: bytes, language: str, *, timeout_s: float | None = None) -> ParsedFile:
    """Parse `source` and run the language's tags query over it; ``timeout_s`` bounds the
    parse (ParseTimeout past it)."""
    g = grammar(language)
    tree = _parse_tree(g.parser(), source, timeout_s)
    raw_defs: list[tuple[ts.Node, str, str]] = []
    refs: list[Reference] = []
    seen_defs: set[tuple[int, int]] = set()
    # The query runs without a callback (py-tree-sitter 0.26 crashes with one on matches());
    # its cost follows the tree's size, which the caller bounds by the bytes it parses.
    for _pattern, caps in ts.QueryCursor(g.tags).matches(tree.root_node):
        names = caps.get("name")
        if not names:
            continue
        name_node = names[0]
        name = _text(name_node, source)
        for cap, nodes in caps.items():
            if cap.startswith("definition."):
                node = _climb(nodes[0])
                key = (node.start_byte, node.end_byte)
                if key not in seen_defs:
                    seen_defs.add(key)
                    raw_defs.append((node, name, cap.removeprefix("definition.")))
            elif cap.startswith("reference."):
                refs.append(
                    Reference(name, cap.removeprefix("reference."), name_node.start_point[0])
                )
    raw_defs.sort(key=lambda d: (d[0].start_byte, -d[0].end_byte))
    definitions = _qualify(raw_defs, source, language)
    refs.sort(key=lambda r: (r.line, r.name))
    top = tuple(sorted({c.start_point[0] for c in tree.root_node.named_children}))
    return ParsedFile(language, tuple(definitions), tuple(refs), tree.root_node.has_error, top)


def _text(node: ts.Node, source: bytes) -> str:
    # A slice of our own bytes: ``node.text`` copies the whole source on every call (a
    # quadratic parse for files with many definitions) and is None for chunked parses.
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _climb(node: ts.Node) -> ts.Node:
    parent = node.parent
    while parent is not None and parent.type in _WRAPPERS and parent.parent is not None:
        node, parent = parent, parent.parent
    return node


def _qualify(raw: list[tuple[ts.Node, str, str]], source: bytes, language: str) -> list[Definition]:
    out: list[Definition] = []
    stack: list[tuple[int, str, str]] = []  # (end_byte, qualname, kind) of enclosing scopes
    for node, name, kind in raw:
        while stack and stack[-1][0] <= node.start_byte:
            stack.pop()
        owner = stack[-1][1] if stack else _impl_owner(node, source)
        qual = f"{owner}.{name}" if owner else name
        if kind == "function" and stack and stack[-1][2] in _SCOPE_KINDS:
            kind = "method"
        doc, doc_start = _docstring(node, language, source)
        out.append(
            Definition(
                name=name,
                qualname=qual,
                kind=kind,
                start_line=node.start_point[0],
                end_line=_end_line(node),
                signature=_signature(node, source),
                docstring=doc,
                doc_start_line=doc_start,
                breaks=_breaks(node),
            )
        )
        if kind in _SCOPE_KINDS or _has_body(node):
            stack.append((node.end_byte, qual, kind))
    return out


def _impl_owner(node: ts.Node, source: bytes) -> str:
    """The type a Rust `impl` block or Go method receiver attaches a function to."""
    parent = node.parent
    while parent is not None:
        if parent.type == "impl_item":
            ty = parent.child_by_field_name("type")
            return _text(ty, source) if ty is not None else ""
        parent = parent.parent
    if node.type == "method_declaration":  # Go: func (s *Store) Get(...)
        recv = node.child_by_field_name("receiver")
        if recv is not None:
            for ident in _descendants(recv, "type_identifier"):
                return _text(ident, source)
    return ""


def _descendants(node: ts.Node, kind: str) -> list[ts.Node]:
    out: list[ts.Node] = []
    todo = [node]
    while todo:
        n = todo.pop()
        if n.type == kind:
            out.append(n)
        todo.extend(reversed(n.named_children))
    return out


def _breaks(node: ts.Node) -> tuple[int, ...]:
    body = _body(node)
    if body is None:
        return ()
    while body.named_child_count == 1 and body.named_children[0].named_child_count > 1:
        body = body.named_children[0]
    return tuple(sorted({c.start_point[0] for c in body.named_children}))


def _end_line(node: ts.Node) -> int:
    row, col = node.end_point
    return row - 1 if col == 0 and row > node.start_point[0] else row


def _has_body(node: ts.Node) -> bool:
    return any(node.child_by_field_name(f) is not None for f in ("body",))


def _body(node: ts.Node) -> ts.Node | None:
    for n in _walk_wrapped(node):
        for field in _BODY_FIELDS:
            body = n.child_by_field_name(field)
            if body is not None and body.end_byte > body.start_byte:
                return body
    return None


def _walk_wrapped(node: ts.Node) -> list[ts.Node]:
    """The node itself, then named descendants down the wrapper chain (for C declarators)."""
    out = [node]
    cur = node
    for _ in range(4):
        inner = cur.child_by_field_name("declarator") or cur.child_by_field_name("definition")
        if inner is None:
            break
        out.append(inner)
        cur = inner
    return out


def _signature(node: ts.Node, source: bytes) -> str:
    body = _body(node)
    end = body.start_byte if body is not None and body.start_byte > node.start_byte else None
    for child in node.children:
        if child.type in _COMMENT_TYPES and end is not None and child.start_byte < end:
            end = child.start_byte
            break
    if end is None:
        nl = source.find(b"\n", node.start_byte, node.end_byte)
        end = nl if nl != -1 else node.end_byte
    sig = _WS.sub(" ", source[node.start_byte : end].decode("utf-8", "replace")).strip()
    sig = sig.rstrip("{:= ").strip()
    return sig[:_MAX_SIGNATURE]


def _docstring(node: ts.Node, language: str, source: bytes) -> tuple[str, int]:
    start = node.start_point[0]
    if language == "python":
        body = _body(node)
        inner = node
        if node.type == "decorated_definition":
            d = node.child_by_field_name("definition")
            inner = d if d is not None else node
            body = inner.child_by_field_name("body")
        if body is not None and body.named_child_count:
            first = body.named_children[0]
            if first.type == "expression_statement" and first.named_child_count:
                s = first.named_children[0]
                if s.type == "string":
                    return _clean_doc(_text(s, source)), start
        return "", start
    comments: list[ts.Node] = []
    prev = node.prev_named_sibling
    expected_row = node.start_point[0]
    while prev is not None and prev.type in _COMMENT_TYPES:
        if _end_line(prev) < expected_row - 1:
            break
        comments.append(prev)
        expected_row = prev.start_point[0]
        prev = prev.prev_named_sibling
    if not comments:
        return "", start
    comments.reverse()
    text = "\n".join(_text(c, source) for c in comments)
    return _clean_doc(text), comments[0].start_point[0]


_DOC_MARKERS = re.compile(r'^\s*(?:/\*\*?|\*/|\*|///?|#|"""|\'\'\'|r"""|--)\s?', re.MULTILINE)


def _clean_doc(text: str) -> str:
    text = text.strip()
    for q in ('"""', "'''", 'r"""', '"', "'"):
        if text.startswith(q) and text.endswith(q.lstrip("r")) and len(text) >= 2 * len(q) - 1:
            text = text[len(q) : len(text) - len(q.lstrip("r"))]
            break
    text = _DOC_MARKERS.sub("", text)
    text = text.replace("*/", "")
    return "\n".join(line.rstrip() for line in text.strip().splitlines()).strip()
