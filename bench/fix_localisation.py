"""Localisation recall: does the file to fix reach the candidates the model is shown?

A real package's sdist becomes a git repository with every docstring replaced by `pass`. Each
documented function (outside tests) yields an issue made of the first sentence of its
docstring, in two forms: ``behaviour`` (the sentence alone: what a user reports) and
``named`` (the sentence after the function's name in backticks: what a developer reports).
The right file is the one defining the function. Reported: recall@1, @3 and @8 (the model is
shown the outlines of 8 candidates) for

- ``lexical``: BM25 over the files' identifiers (the fallback without an index);
- ``index``: the repository index's hybrid search alone (files in hit order);
- ``ours``: :func:`bot.fix.localise.rank_candidates` with the index (paths and symbols named
  in the issue, hybrid search, the repo map of the top candidates);
- ``ours-no-index``: the same with the lexical ranking instead of the index.

    .venv/bin/python -m bench.fix_localisation [--package click==8.1.7] [--cases 150]

Scope level (localisation's second step, :func:`bot.fix.windows.rank_scopes`): among the
scopes of the top 3 files of ``ours`` / ``ours-no-index`` (the files the model would pick
from; no model here, so without its choice of symbols), is the issue's function in the first
1, 3 and 6 scopes (6 = the most windows an edit prompt carries)? ``S@k`` counts a case only
when the function is found; ``S@k|file`` divides by the cases whose file is in the top 3.

The issues are a proxy (docstring sentences, not real bug reports): they measure whether the
right file is found from a description of its behaviour, not the model's pick among the 8.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.index import fetch_sdist, make_repo, read_tree
from bench.retrieval import build_cases
from bot.fix.localise import SearchHit, is_test_path, lexical_ranking, rank_candidates
from bot.fix.retrieval import index_workspace
from bot.fix.windows import rank_scopes

os.environ.setdefault("HF_HUB_OFFLINE", "1")
KS = (1, 3, 8)
SCOPE_KS = (1, 3, 6)
FILES_FOR_SCOPES = 3


def recall(rankings: Sequence[Sequence[str]], truths: Sequence[str]) -> list[float]:
    n = max(len(truths), 1)
    return [sum(t in r[:k] for r, t in zip(rankings, truths, strict=True)) / n for k in KS]


def scope_hits(
    query: str,
    files: Sequence[str],
    texts: dict[str, str],
    truth: tuple[str, str],
    hits: Sequence[SearchHit] = (),
) -> tuple[bool, list[bool]]:
    """(the true file is among ``files``, is the true scope in the first k ranked scopes)."""
    chosen = [(path, texts[path]) for path in files[:FILES_FOR_SCOPES]]
    ranked = rank_scopes(query, chosen, hits=hits, limit=max(SCOPE_KS))
    names = [(s.path, s.qualname) for s in ranked]
    return truth[0] in files[:FILES_FOR_SCOPES], [truth in names[:k] for k in SCOPE_KS]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--package", default="click==8.1.7")
    ap.add_argument("--cases", type=int, default=150)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "assist-fixloc")
    args = ap.parse_args()
    work = args.workdir / args.package.replace("=", "-").replace("*", "x")
    tree = fetch_sdist(args.package, work)
    everything = read_tree(tree)
    python = {p: d for p, d in everything.items() if p.endswith(".py") and len(d) < 200_000}
    stripped, cases = build_cases(python)
    files = {**{p: d for p, d in everything.items() if len(d) < 200_000}, **stripped}
    cases = [c for c in cases if not is_test_path(c.path)]
    rng = random.Random(args.seed)
    cases = sorted(rng.sample(cases, min(args.cases, len(cases))), key=lambda c: c.query)
    repo = make_repo(files, work / "repo")
    texts: dict[str, str] = {}
    for path, data in files.items():
        try:
            texts[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        search = index_workspace(
            Path(repo.working_dir), scratch=Path(scratch), embeddings_cache=work / "emb.sqlite"
        )
        indexed = time.perf_counter() - t0
        truths = [c.path for c in cases]
        table: dict[tuple[str, str], list[float]] = {}
        scope_table: dict[tuple[str, str], tuple[int, list[int]]] = {}
        started = time.perf_counter()
        for form in ("behaviour", "named"):
            runs: dict[str, list[list[str]]] = {
                "lexical": [], "index": [], "ours": [], "ours-no-index": []
            }  # fmt: skip
            scoped: dict[str, tuple[int, list[int]]] = {
                "ours": (0, [0] * len(SCOPE_KS)), "ours-no-index": (0, [0] * len(SCOPE_KS))
            }  # fmt: skip
            for case in cases:
                name = case.qualname.rsplit(".", 1)[-1]
                query = case.query if form == "behaviour" else f"`{name}()`: {case.query}"
                lexical = lexical_ranking(query, texts)
                hits = search.search(query, limit=20)
                hit_files = list(dict.fromkeys(h.path for h in hits))
                first = rank_candidates(query, texts, hits=hits, limit=3)
                related = search.related([c.path for c in first], limit=5)
                ours = rank_candidates(query, texts, hits=hits, related=related, limit=8)
                plain = rank_candidates(query, texts, lexical=lexical, limit=8)
                runs["lexical"].append(lexical)
                runs["index"].append(hit_files)
                runs["ours"].append([c.path for c in ours])
                runs["ours-no-index"].append([c.path for c in plain])
                truth = (case.path, case.qualname)
                for mode, ranking, used in (
                    ("ours", [c.path for c in ours], hits),
                    ("ours-no-index", [c.path for c in plain], ()),
                ):
                    in_files, found = scope_hits(query, ranking, texts, truth, used)
                    files_ok, counts = scoped[mode]
                    scoped[mode] = (
                        files_ok + in_files,
                        [n + hit for n, hit in zip(counts, found, strict=True)],
                    )
            for mode, rankings in runs.items():
                table[(form, mode)] = recall(rankings, truths)
            for mode, counted in scoped.items():
                scope_table[(form, mode)] = counted
        per_case = (time.perf_counter() - started) / max(1, 2 * len(cases))
        search.close()
    n_py = sum(1 for p in texts if p.endswith(".py"))
    print(
        f"{tree.name}: {len(texts)} text files ({n_py} .py), {len(cases)} issues (docstring "
        f"sentences of non-test functions, docstrings stripped); indexed in {indexed:.0f}s; "
        f"{per_case * 1000:.0f} ms per issue for all four rankings"
    )
    print(f"{'issue form':11} {'mode':14} " + " ".join(f"{'R@' + str(k):>6}" for k in KS))
    for (form, mode), values in table.items():
        print(f"{form:11} {mode:14} " + " ".join(f"{v:6.3f}" for v in values))
    n = max(1, len(cases))
    print(
        f"\nscope level (the issue's function among the ranked scopes of the top "
        f"{FILES_FOR_SCOPES} files):"
    )
    heads = [f"S@{k}" for k in SCOPE_KS] + [f"S@{k}|file" for k in SCOPE_KS]
    print(f"{'issue form':11} {'mode':14} {'file@3':>6} " + " ".join(f"{h:>8}" for h in heads))
    for (form, mode), (files_ok, counts) in scope_table.items():
        whole = [c / n for c in counts]
        given = [c / max(1, files_ok) for c in counts]
        print(
            f"{form:11} {mode:14} {files_ok / n:6.3f} "
            + " ".join(f"{v:8.3f}" for v in (*whole, *given))
        )


if __name__ == "__main__":
    main()
