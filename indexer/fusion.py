"""Weighted reciprocal rank fusion of dense and sparse result lists (pure).

score(d) = sum over lists i of w_i / (k + rank_i(d)), ranks from 1. Dense retrieval is the
stronger signal for natural-language queries over code, so it leads (weight 2) and the sparse
list promotes what both agree on and rescues exact identifier matches. k and the weights were
chosen on bench/retrieval.py with seed 11 and checked on a held-out seed (docs/indexer.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from indexer.store import Hit

Mode = Literal["hybrid", "dense", "sparse"]
RRF_K = 2
DENSE_WEIGHT = 2.0
SPARSE_WEIGHT = 1.0
CANDIDATES = 40  # per list, before fusion


def rrf(
    lists: Sequence[Sequence[Hit]], weights: Sequence[float], *, k: int = RRF_K, limit: int
) -> list[Hit]:
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for hits, weight in zip(lists, weights, strict=True):
        for rank, hit in enumerate(hits, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (k + rank)
            first.setdefault(hit.id, hit)
    order = sorted(scores, key=lambda i: (-scores[i], i))[:limit]
    return [Hit(i, scores[i], first[i].payload) for i in order]
