"""Token counting with the embedding model's own tokenizer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tokenizers import Tokenizer

_ASCII_PUNCT = r"!-/:-@\[-`{-~"
_PUNCT = re.compile(f"[{_ASCII_PUNCT}]")
_WORD = re.compile(f"[^\\s{_ASCII_PUNCT}]+")
_WORD_CACHE_MAX = 500_000


class TokenCounter(Protocol):
    """Counts tokens the way the embedding model will see them (no special tokens)."""

    def count(self, texts: Sequence[str]) -> list[int]: ...

    def count_lines(self, text: str) -> list[int]:
        """Tokens on each line of `text` (`str.splitlines()` lines)."""
        ...

    def truncate(self, text: str, max_tokens: int) -> str: ...


class HFTokenCounter:
    """A `tokenizers.Tokenizer` without truncation or padding, for exact counts."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tok = tokenizer
        self._tok.no_truncation()
        self._tok.no_padding()
        self._words: dict[str, int] = {}

    @classmethod
    def from_file(cls, path: Path) -> HFTokenCounter:
        return cls(Tokenizer.from_file(str(path)))

    def count(self, texts: Sequence[str]) -> list[int]:
        if len(texts) == 1:  # no thread-pool round trip for the common single text
            return [len(self._tok.encode(texts[0], add_special_tokens=False).ids)]
        if not texts:
            return []
        return [len(e.ids) for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def count_lines(self, text: str) -> list[int]:
        """Tokens per line, from a per-word cache: BERT's pre-tokenizer splits at whitespace
        and makes every ASCII punctuation character one token, so a line's count is the sum
        over its words, and code repeats its words a lot. Each new word is counted once by
        the real tokenizer."""
        cache = self._words
        out: list[int] = []
        for line in text.splitlines():
            n = len(_PUNCT.findall(line))
            for word in _WORD.findall(line):
                c = cache.get(word)
                if c is None:
                    c = len(self._tok.encode(word, add_special_tokens=False).ids)
                    if len(cache) < _WORD_CACHE_MAX:
                        cache[word] = c
                n += c
            out.append(n)
        return out

    def truncate(self, text: str, max_tokens: int) -> str:
        enc = self._tok.encode(text, add_special_tokens=False)
        if len(enc.ids) <= max_tokens:
            return text
        if max_tokens <= 0:
            return ""
        return text[: enc.offsets[max_tokens - 1][1]]
