"""One file from bytes to chunks and symbols (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.chunking import Chunk, chunk_file
from indexer.filters import FileFilter
from indexer.languages import language_for_path, text_language_for_path
from indexer.parsing import parse_source
from indexer.state import DefSummary, FileSymbols
from indexer.tokens import TokenCounter


@dataclass(frozen=True, slots=True)
class ProcessedFile:
    path: str
    blob: str
    chunks: tuple[Chunk, ...]
    symbols: FileSymbols | None
    skipped: str | None  # why the file was not indexed


def process_file(
    path: str,
    blob: str,
    data: bytes,
    *,
    file_filter: FileFilter,
    counter: TokenCounter,
    max_tokens: int,
) -> ProcessedFile:
    reason = file_filter.skip_reason(path, data)
    language = language_for_path(path)
    if reason is None and language is None and text_language_for_path(path) is None:
        reason = "unsupported"
    if reason is not None:
        return ProcessedFile(path, blob, (), None, reason)
    text = data.decode("utf-8", "replace")
    symbols = None
    if language is not None:
        parsed = parse_source(data, language)
        chunks = chunk_file(
            path, text, language=language, counter=counter, parsed=parsed, max_tokens=max_tokens
        )
        symbols = FileSymbols(
            path,
            blob,
            tuple(
                DefSummary(d.name, d.qualname, d.kind, d.start_line + 1, d.signature)
                for d in parsed.definitions
            ),
            tuple(sorted({r.name for r in parsed.references})),
        )
    else:
        label = text_language_for_path(path) or "text"
        chunks = chunk_file(path, text, language=label, counter=counter, max_tokens=max_tokens)
    return ProcessedFile(path, blob, tuple(chunks), symbols, None)
