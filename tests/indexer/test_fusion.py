from __future__ import annotations

from indexer.fusion import rrf
from indexer.store import Hit


def hits(*ids: str) -> list[Hit]:
    return [Hit(i, 0.0, {"id": i}) for i in ids]


def test_agreement_wins_and_weights_lead() -> None:
    dense = hits("a", "b", "c")
    sparse = hits("c", "d")
    fused = rrf([dense, sparse], [2.0, 1.0], k=2, limit=10)
    assert [h.id for h in fused] == ["c", "a", "b", "d"]
    assert fused[0].score == 2.0 / 5 + 1.0 / 3
    assert fused[0].payload == {"id": "c"}


def test_equal_weights_are_symmetric_and_limit_applies() -> None:
    fused = rrf([hits("x", "y"), hits("y", "x")], [1.0, 1.0], k=60, limit=1)
    assert len(fused) == 1
    assert fused[0].id == "x"  # tie broken by id, deterministically
    assert rrf([[], []], [1.0, 1.0], limit=5) == []
