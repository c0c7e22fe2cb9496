"""Chunks fit the model's 256-token window, counted with the model's own tokenizer."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from indexer.chunking import MAX_TOKENS, MIN_FRAGMENT_TOKENS, chunk_file
from indexer.languages import language_for_path
from indexer.parsing import parse_source
from indexer.tokens import HFTokenCounter

ROOT = Path(__file__).resolve().parents[2]


def big_python_module() -> str:
    body = "\n".join(
        f"    value_{i} = compute_something(value_{i - 1}, {i}) * 2" for i in range(1, 90)
    )
    methods = "\n\n".join(
        f"    def method_{i}(self, arg):\n        return self.helper(arg, {i})" for i in range(40)
    )
    return (
        '"""Module docstring."""\n\nimport os\n\n\n'
        f'def long_function(value_0):\n    """A long one."""\n{body}\n    return value_89\n\n\n'
        f'class Wide:\n    """Many methods."""\n\n{methods}\n\n\n'
        f"TOKEN = '{' '.join(f'word{i}' for i in range(600))}'\n"
    )


def tokens_with_specials(counter: HFTokenCounter, text: str) -> int:
    return counter.count([text])[0] + 2


@pytest.mark.parametrize(
    "path", [ROOT / "indexer" / "chunking.py", ROOT / "indexer" / "store.py"], ids=lambda p: p.name
)
def test_real_files_chunks_fit_and_cover_every_line(path: Path, counter: HFTokenCounter) -> None:
    source = path.read_text()
    chunks = chunk_file(
        path.name,
        source,
        language="python",
        counter=counter,
        parsed=parse_source(source.encode(), "python"),
    )
    lines = source.splitlines()
    covered = {n for c in chunks for n in range(c.start_line, c.end_line + 1)}
    for c in chunks:
        assert tokens_with_specials(counter, c.text) <= MAX_TOKENS
        assert c.text.startswith(f"{path.name} {c.symbol}".rstrip())
        assert c.code == "\n".join(lines[c.start_line - 1 : c.end_line])
    starts = [c.start_line for c in chunks]
    assert starts == sorted(starts)
    assert all(a.end_line < b.start_line for a, b in itertools.pairwise(chunks))
    uncovered = [i + 1 for i, line in enumerate(lines) if line.strip() and i + 1 not in covered]
    # Only tiny fragments between definitions may be left out.
    assert all(counter.count([lines[i - 1]])[0] < MIN_FRAGMENT_TOKENS for i in uncovered)


def test_large_definitions_split_on_boundaries(counter: HFTokenCounter) -> None:
    source = big_python_module()
    parsed = parse_source(source.encode(), "python")
    chunks = chunk_file("big.py", source, language="python", counter=counter, parsed=parsed)
    for c in chunks:
        assert tokens_with_specials(counter, c.text) <= MAX_TOKENS
    long_parts = [c for c in chunks if c.symbol == "long_function"]
    assert len(long_parts) >= 3
    assert long_parts[0].code.startswith("def long_function")
    # continuation chunks repeat the signature in the embedded text, not in the code
    assert all("def long_function(value_0)" in c.text for c in long_parts[1:])
    assert not any(c.code.startswith("def ") for c in long_parts[1:])
    # the class is too big: its methods become chunks of their own
    methods = {c.symbol for c in chunks if c.symbol.startswith("Wide.method_")}
    assert methods == {f"Wide.method_{i}" for i in range(40)}
    # the one line longer than the window is truncated to fit
    (token,) = [c for c in chunks if c.code.startswith("TOKEN")]
    assert len(token.code) < 1000
    assert tokens_with_specials(counter, token.text) <= MAX_TOKENS


def test_unknown_language_gets_line_windows(counter: HFTokenCounter) -> None:
    text = "\n".join(f"line {i} of some configuration value = {i * 7}" for i in range(300))
    chunks = chunk_file("settings.conf", text, language="conf", counter=counter)
    assert len(chunks) > 5
    assert chunks[0].start_line == 1
    assert chunks[-1].end_line == 300
    assert all(b.start_line == a.end_line + 1 for a, b in itertools.pairwise(chunks))
    assert {c.kind for c in chunks} == {"text"}
    assert all(tokens_with_specials(counter, c.text) <= MAX_TOKENS for c in chunks)


def test_unparsable_file_falls_back_to_windows_with_symbols(counter: HFTokenCounter) -> None:
    source = "def ok(a):\n    return a\n\ndef broken(:\n    pass ))\n" * 3
    parsed = parse_source(source.encode(), "python")
    assert parsed.has_error
    chunks = chunk_file("bad.py", source, language="python", counter=counter, parsed=parsed)
    assert chunks
    assert {c.kind for c in chunks} == {"code"}
    assert chunks[0].symbol == "ok"


def test_language_detection() -> None:
    assert language_for_path("a/b.tsx") == "tsx"
    assert language_for_path("x.h") == "c"
    assert language_for_path("x.hpp") == "cpp"
    assert language_for_path("README.md") is None


def test_cached_line_counts_equal_the_tokenizer(counter: HFTokenCounter) -> None:
    texts = [
        (ROOT / "indexer" / "parsing.py").read_text(),
        *(p.read_text() for p in sorted((Path(__file__).parent / "golden" / "src").iterdir())),
        "héllo wörld 日本語 ünïcode_ident\nzweite Zeile ñ\r\nthird\u2028«quote» — x\u00a0y\n",
        "\ttabs\tand  spaces\n\n\n$var->call(); // ©2024 naïve café\n",
    ]
    for text in texts:
        lines = text.splitlines()
        assert counter.count_lines(text) == [counter.count([line])[0] for line in lines]
