"""Is a finding's replacement safe to offer as a one-click suggestion? Pure.

A replacement becomes a committable suggestion only when the file with the replacement applied
parses with tree-sitter with no more syntax errors than before. Otherwise (or for a language
without a grammar) it is shown as a plain diff the reader can judge.
"""

from __future__ import annotations

import difflib
import enum

import tree_sitter as ts

from indexer.languages import grammar, language_for_path


class SuggestionKind(enum.StrEnum):
    COMMITTABLE = "committable"  # parses: a ```suggestion block
    PLAIN = "plain"  # not checked or adds errors: a ```diff block


def error_count(source: bytes, language: str) -> int:
    """ERROR and MISSING nodes in the parse of ``source``."""
    tree = grammar(language).parser().parse(source)
    count = 0
    cursor: ts.TreeCursor = tree.walk()
    visited_children = False
    while True:
        node = cursor.node
        if not visited_children:
            if node is not None and (node.is_error or node.is_missing):
                count += 1
            if node is not None and node.has_error and cursor.goto_first_child():
                continue
        if cursor.goto_next_sibling():
            visited_children = False
            continue
        if not cursor.goto_parent():
            return count
        visited_children = True


def apply_replacement(source: str, start_line: int, end_line: int, replacement: str) -> str:
    """``source`` with lines ``start_line..end_line`` (1-based, inclusive) replaced."""
    lines = source.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    new = [line + newline for line in replacement.splitlines()]
    if end_line == len(lines) and lines and not lines[-1].endswith(("\n", "\r")) and new:
        new[-1] = new[-1].rstrip("\r\n")
    return "".join(lines[: start_line - 1] + new + lines[end_line:])


def classify(
    path: str, source: str | None, start_line: int, end_line: int, replacement: str
) -> SuggestionKind:
    """COMMITTABLE when ``replacement`` over the anchored lines adds no syntax error."""
    language = language_for_path(path)
    if source is None or language is None:
        return SuggestionKind.PLAIN
    lines = source.splitlines()
    if not 1 <= start_line <= end_line <= len(lines):
        return SuggestionKind.PLAIN
    before = error_count(source.encode(), language)
    after = error_count(
        apply_replacement(source, start_line, end_line, replacement).encode(), language
    )
    return SuggestionKind.COMMITTABLE if after <= before else SuggestionKind.PLAIN


def plain_diff(original: str, replacement: str) -> str:
    """The replacement as a unified diff of the quoted lines, for a ```diff block."""
    lines = difflib.unified_diff(
        original.splitlines(keepends=True),
        replacement.splitlines(keepends=True),
        n=max(len(original.splitlines()), 1),
    )
    return "".join(
        line if line.endswith("\n") else line + "\n"
        for line in list(lines)[2:]
        if not line.startswith("@@")  # its line numbers count from the quote, not the file
    )
