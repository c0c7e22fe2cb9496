"""Retrieval quality on real code: each function's docstring becomes a query that must find
that function; docstrings are removed from the indexed text first.

    .venv/bin/python -m bench.retrieval [--package django==5.1.*] [--files 60]

Prints MRR@10 and recall@10 for dense-only, sparse-only (BM25 over split identifiers) and
fused (RRF) retrieval, side by side. Files are subsampled (--files) so embedding fits a few
minutes on 2 cores; the output says how many.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tree_sitter as ts

from bench.index import fetch_sdist, make_repo, read_tree
from indexer.api import open_indexer
from indexer.fusion import Mode
from indexer.languages import grammar
from indexer.parsing import parse_source

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Case:
    path: str
    qualname: str
    line: int  # 1-based start line of the definition in the stripped file
    query: str


def docstring_nodes(tree: ts.Tree) -> list[ts.Node]:
    """String statements that open a module, class or function body."""
    out: list[ts.Node] = []
    todo = [tree.root_node]
    while todo:
        node = todo.pop()
        body = node if node.type == "module" else node.child_by_field_name("body")
        if node.type in ("module", "function_definition", "class_definition") and body:
            first = body.named_children[0] if body.named_child_count else None
            if (
                first is not None
                and first.type == "expression_statement"
                and first.named_child_count
                and first.named_children[0].type == "string"
            ):
                out.append(first)
        todo.extend(node.named_children)
    return out


def strip_docstrings(source: bytes) -> bytes:
    """Replace every docstring by `pass` (keeps bodies valid Python)."""
    tree = grammar("python").parser().parse(source)
    for node in sorted(docstring_nodes(tree), key=lambda n: n.start_byte, reverse=True):
        source = source[: node.start_byte] + b"pass" + source[node.end_byte :]
    return source


def query_from(doc: str) -> str:
    text = _WS.sub(" ", doc).strip()
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return " ".join(first.split()[:40])


def build_cases(files: dict[str, bytes]) -> tuple[dict[str, bytes], list[Case]]:
    stripped: dict[str, bytes] = {}
    cases: list[Case] = []
    for path, data in files.items():
        original = parse_source(data, "python")
        docs = {
            d.qualname: d.docstring
            for d in original.definitions
            if d.kind in ("function", "method") and len(d.docstring.split()) >= 4
        }
        new = strip_docstrings(data)
        stripped[path] = new
        for d in parse_source(new, "python").definitions:
            if d.qualname in docs:
                cases.append(Case(path, d.qualname, d.start_line + 1, query_from(docs[d.qualname])))
    return stripped, cases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default="django==5.1.*")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "assist-bench")
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()

    tree = fetch_sdist(args.package, args.workdir)
    everything = read_tree(tree)
    candidates = sorted(
        p
        for p, data in everything.items()
        if p.endswith(".py") and "tests/" not in p and b'"""' in data and len(data) < 60_000
    )
    rng = random.Random(args.seed)
    chosen = sorted(rng.sample(candidates, min(args.files, len(candidates))))
    stripped, cases = build_cases({p: everything[p] for p in chosen})
    cases = sorted(rng.sample(cases, min(args.queries, len(cases))), key=lambda c: c.query)
    repo_root = args.workdir / "retrieval-repo"
    repo = make_repo(stripped, repo_root)
    cache = args.workdir / "retrieval-cache"
    shutil.rmtree(cache, ignore_errors=True)
    ix = open_indexer(cache)
    stats = ix.index_commit(repo, "retrieval", str(repo.head.commit.hexsha))
    print(
        f"{tree.name}: SUBSAMPLE of {len(chosen)} of {len(candidates)} documented .py files, "
        f"{stats.chunks} chunks (docstrings replaced by `pass`), {len(cases)} queries"
    )
    print(f"{'mode':8} {'MRR@10':>7} {'recall@10':>10}")
    modes: tuple[Mode, ...] = ("dense", "sparse", "hybrid")
    for mode in modes:
        rr: list[float] = []
        for case in cases:
            hits = ix.search("retrieval", case.query, limit=10, mode=mode)
            rank = next(
                (
                    i + 1
                    for i, h in enumerate(hits)
                    if h.path == case.path and h.start_line <= case.line <= h.end_line
                ),
                None,
            )
            rr.append(1.0 / rank if rank else 0.0)
        mrr = sum(rr) / len(rr)
        recall = sum(1 for r in rr if r > 0) / len(rr)
        label = "fused" if mode == "hybrid" else mode
        print(f"{label:8} {mrr:7.3f} {recall:10.3f}")
    ix.store.close()


if __name__ == "__main__":
    main()
