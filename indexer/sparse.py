"""BM25-style sparse vectors over code identifiers, split on snake_case and camelCase.

Documents carry BM25's saturated term frequency with length normalisation; the inverse
document frequency is applied by the vector store (Qdrant's IDF modifier), so the corpus
statistics stay correct as files come and go. Terms are hashed to 32-bit indices."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
K1 = 1.2
B = 0.75
AVG_LEN = 120.0  # terms in a typical chunk of <=256 model tokens
_STOP = frozenset(
    {"the", "a", "an", "of", "to", "and", "or", "in", "is", "it", "for", "on", "be", "as", "by"}
)


@dataclass(frozen=True, slots=True)
class SparseVec:
    indices: tuple[int, ...]
    values: tuple[float, ...]


def split_identifier(word: str) -> list[str]:
    """`parseHTTPResponse_v2` -> ["parse", "http", "response", "v", "2"]."""
    return [p.lower() for chunk in word.split("_") if chunk for p in _PART.findall(chunk)]


def terms(text: str) -> list[str]:
    """Identifiers (whole, lower-cased) plus their parts when they have several."""
    out: list[str] = []
    for word in _WORD.findall(text):
        parts = split_identifier(word)
        whole = word.lower().strip("_")
        if len(parts) > 1:
            out.append(whole)
            out.extend(p for p in parts if len(p) > 1 and p not in _STOP)
        elif len(whole) > 1 and whole not in _STOP:
            out.append(whole)
    return out


def term_index(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")


def _vector(weights: dict[int, float]) -> SparseVec:
    items = sorted(weights.items())
    return SparseVec(tuple(i for i, _ in items), tuple(v for _, v in items))


SYMBOL_BOOST = 3  # a definition's own name counts like this many occurrences (BM25F-style)


def document_vector(text: str, *, symbol: str = "") -> SparseVec:
    tf = Counter(term_index(t) for t in terms(text))
    for t in terms(symbol.rsplit(".", 1)[-1]):
        tf[term_index(t)] += SYMBOL_BOOST - 1
    length = sum(tf.values())
    norm = K1 * (1 - B + B * length / AVG_LEN)
    return _vector({i: n * (K1 + 1) / (n + norm) for i, n in tf.items()})


def query_vector(text: str) -> SparseVec:
    return _vector(dict.fromkeys((term_index(t) for t in terms(text)), 1.0))
