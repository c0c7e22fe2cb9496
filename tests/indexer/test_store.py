"""One contract suite for both vector stores: Qdrant Edge (on disk) and qdrant-client
(local mode, the same API a Qdrant server speaks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from indexer.embedding import MiniLMEmbedder
from indexer.pipeline import point_id
from indexer.sparse import document_vector, query_vector
from indexer.store import EdgeStore, Scope, StoredPoint, VectorStore
from indexer.store_server import QdrantServerStore

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect")

DOCS = {
    (
        "base",
        "auth.py",
    ): "def check_password(user, password):\n    return hash(password) == user.pw",
    ("base", "http.py"): "class HttpClient:\n    def get(self, url):\n        return fetch(url)",
    ("base", "math.py"): "def add_numbers(a, b):\n    return a + b",
    ("pr:abc", "auth.py"): "def check_password(user, secret):\n    return verify_totp(secret)",
}


@pytest.fixture(params=["edge", "qdrant-client"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    if request.param == "edge":
        s: VectorStore = EdgeStore.open(tmp_path / "edge", model="minilm", dim=384)
    else:
        server = QdrantServerStore(QdrantClient(":memory:"), model="minilm", dim=384)
        server.ensure_collection()
        s = server
    yield s
    s.close()


def fill(store: VectorStore, minilm: MiniLMEmbedder, repo: str = "r") -> None:
    keys = list(DOCS)
    vectors = minilm.embed([DOCS[k] for k in keys])
    store.upsert(
        [
            StoredPoint(
                point_id(repo, layer, path, "blob", 0),
                vec.tolist(),
                document_vector(DOCS[(layer, path)]),
                {"repo": repo, "layer": layer, "path": path, "commit": "c1", "blob": "blob"},
            )
            for (layer, path), vec in zip(keys, vectors, strict=True)
        ]
    )
    store.flush()


def query(
    store: VectorStore, minilm: MiniLMEmbedder, text: str, scope: Scope, mode: str
) -> list[tuple[str, str]]:
    if mode == "dense":
        hits = store.search(scope=scope, dense=minilm.embed([text])[0].tolist(), limit=5)
    else:
        hits = store.search(scope=scope, sparse=query_vector(text), limit=5)
    return [(h.payload["layer"], h.payload["path"]) for h in hits]


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_search_modes_find_the_right_file(
    store: VectorStore, minilm: MiniLMEmbedder, mode: str
) -> None:
    fill(store, minilm)
    hits = query(store, minilm, "add two numbers", Scope("r"), mode)
    assert hits[0] == ("base", "math.py")
    assert all(layer == "base" for layer, _ in hits)


def test_sparse_matches_split_identifiers(store: VectorStore, minilm: MiniLMEmbedder) -> None:
    fill(store, minilm)
    hits = query(store, minilm, "HttpClient", Scope("r"), "sparse")
    assert hits == [("base", "http.py")]


def test_overlay_scope_masks_base_paths(store: VectorStore, minilm: MiniLMEmbedder) -> None:
    fill(store, minilm)
    assert store.search(scope=Scope("r"), limit=5) == []
    scope = Scope("r", overlay="pr:abc", masked_paths=frozenset({"auth.py"}))
    hits = query(store, minilm, "check password", scope, "dense")
    assert ("pr:abc", "auth.py") in hits
    assert ("base", "auth.py") not in hits
    base_hits = query(store, minilm, "check password", Scope("r"), "dense")
    assert ("pr:abc", "auth.py") not in base_hits
    assert base_hits[0] == ("base", "auth.py")


def test_repos_are_isolated_and_deletes_work(store: VectorStore, minilm: MiniLMEmbedder) -> None:
    fill(store, minilm, "r")
    fill(store, minilm, "other")
    assert store.count(repo="r") == 4
    assert store.count(repo="r", layer="base") == 3
    store.delete_paths(repo="r", layer="base", paths=["auth.py", "http.py"])
    store.flush()
    assert store.count(repo="r", layer="base") == 1
    store.delete_layer(repo="r", layer="pr:abc")
    store.flush()
    assert store.count(repo="r") == 1
    assert store.count(repo="other") == 4
    assert query(store, minilm, "password", Scope("r", paths=frozenset({"math.py"})), "dense") == [
        ("base", "math.py")
    ]


def test_edge_store_persists(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    store = EdgeStore.open(tmp_path / "edge", model="minilm", dim=384)
    fill(store, minilm)
    store.close()
    reopened = EdgeStore.open(tmp_path / "edge", model="minilm", dim=384)
    assert reopened.count(repo="r") == 4
    assert query(reopened, minilm, "add two numbers", Scope("r"), "dense")[0] == (
        "base",
        "math.py",
    )
    reopened.close()


def test_server_store_creates_payload_indexes() -> None:
    client = QdrantClient(":memory:")
    store = QdrantServerStore(client, model="all-MiniLM-L6-v2-int8", dim=384)
    store.ensure_collection()
    store.ensure_collection()  # idempotent
    info = client.get_collection("code_all_minilm_l6_v2_int8")
    assert info.config.params.sparse_vectors is not None
    assert set(info.config.params.vectors) == {"dense"}  # type: ignore[arg-type]
    assert set(info.config.params.sparse_vectors) == {"bm25"}
