"""Golden files per language: source -> definitions, references and chunk spans.

Regenerate after an intended change with ASSIST_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from indexer.chunking import chunk_file
from indexer.languages import language_for_path, supported_languages
from indexer.parsing import parse_source
from indexer.tokens import HFTokenCounter

GOLDEN = Path(__file__).parent / "golden"
SOURCES = sorted((GOLDEN / "src").iterdir())


def snapshot(path: Path, counter: HFTokenCounter) -> dict[str, Any]:
    language = language_for_path(path.name)
    assert language is not None
    source = path.read_bytes()
    parsed = parse_source(source, language)
    chunks = chunk_file(
        path.name, source.decode(), language=language, counter=counter, parsed=parsed
    )
    return {
        "language": language,
        "has_error": parsed.has_error,
        "definitions": [
            {
                "kind": d.kind,
                "qualname": d.qualname,
                "lines": [d.start_line + 1, d.end_line + 1],
                "signature": d.signature,
                "docstring": d.docstring,
            }
            for d in parsed.definitions
        ],
        "references": sorted({r.name for r in parsed.references}),
        "chunks": [
            {"lines": [c.start_line, c.end_line], "symbol": c.symbol, "kind": c.kind}
            for c in chunks
        ],
    }


def test_every_supported_language_has_a_golden_file() -> None:
    covered = {language_for_path(p.name) for p in SOURCES}
    assert covered == set(supported_languages())


@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_golden(source: Path, counter: HFTokenCounter) -> None:
    actual = snapshot(source, counter)
    golden = GOLDEN / f"{source.name}.json"
    if os.environ.get("ASSIST_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(actual, indent=2) + "\n")
    assert actual == json.loads(golden.read_text())
