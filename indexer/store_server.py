"""The Qdrant server adapter (qdrant-client): one collection per embedding model, keyword
payload indexes on repo/layer/path/commit/blob, dense or sparse search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from indexer.sparse import SparseVec
from indexer.store import (
    BASE_LAYER,
    DENSE,
    KEYWORD_FIELDS,
    SPARSE,
    Hit,
    Scope,
    StoredPoint,
    collection_name,
)


def _eq(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _any(key: str, values: Sequence[str]) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))


class QdrantServerStore:
    """A collection on a Qdrant server (or qdrant-client's local mode in tests)."""

    def __init__(self, client: QdrantClient, *, model: str, dim: int) -> None:
        self._client = client
        self._name = collection_name(model)
        self._dim = dim

    def ensure_collection(self) -> None:
        """Create the collection and its payload indexes if missing (an explicit I/O step)."""
        if self._client.collection_exists(self._name):
            return
        self._client.create_collection(
            self._name,
            vectors_config={
                DENSE: models.VectorParams(size=self._dim, distance=models.Distance.COSINE)
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        for name in KEYWORD_FIELDS:
            self._client.create_payload_index(
                self._name, name, field_schema=models.PayloadSchemaType.KEYWORD
            )

    def _filter(self, scope: Scope) -> models.Filter:
        must: list[Any] = [_eq("repo", scope.repo)]
        if scope.paths is not None:
            must.append(_any("path", sorted(scope.paths)))
        if scope.overlay is None:
            must.append(_eq("layer", BASE_LAYER))
            return models.Filter(must=must)
        masked = sorted(scope.masked_paths)
        base = models.Filter(
            must=[_eq("layer", BASE_LAYER)], must_not=[_any("path", masked)] if masked else None
        )
        return models.Filter(must=must, should=[base, _eq("layer", scope.overlay)])

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        for b in range(0, len(points), 256):
            self._client.upsert(
                self._name,
                points=[
                    models.PointStruct(
                        id=p.id,
                        vector={
                            DENSE: [float(x) for x in p.dense],
                            SPARSE: models.SparseVector(
                                indices=list(p.sparse.indices), values=list(p.sparse.values)
                            ),
                        },
                        payload=p.payload,
                    )
                    for p in points[b : b + 256]
                ],
            )

    def _delete(self, flt: models.Filter) -> None:
        self._client.delete(self._name, points_selector=models.FilterSelector(filter=flt))

    def delete_paths(self, *, repo: str, layer: str, paths: Sequence[str]) -> None:
        if paths:
            self._delete(
                models.Filter(must=[_eq("repo", repo), _eq("layer", layer), _any("path", paths)])
            )

    def delete_layer(self, *, repo: str, layer: str) -> None:
        self._delete(models.Filter(must=[_eq("repo", repo), _eq("layer", layer)]))

    def count(self, *, repo: str, layer: str | None = None) -> int:
        must = [_eq("repo", repo)] + ([_eq("layer", layer)] if layer is not None else [])
        return self._client.count(self._name, count_filter=models.Filter(must=must)).count

    def search(
        self,
        *,
        scope: Scope,
        dense: Sequence[float] | None = None,
        sparse: SparseVec | None = None,
        limit: int,
    ) -> list[Hit]:
        query: list[float] | models.SparseVector
        if dense is not None:
            query, using = [float(x) for x in dense], DENSE
        elif sparse is not None and sparse.indices:
            query = models.SparseVector(indices=list(sparse.indices), values=list(sparse.values))
            using = SPARSE
        else:
            return []
        res = self._client.query_points(
            self._name,
            query=query,
            using=using,
            query_filter=self._filter(scope),
            limit=limit,
            with_payload=True,
        )
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in res.points]

    def flush(self) -> None:
        """Writes are acknowledged by the server; nothing to flush."""

    def close(self) -> None:
        self._client.close()
