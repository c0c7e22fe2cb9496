"""Blob sizes are read before contents: over-size blobs are never read, the rest in batches
bounded by bytes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import git

from indexer import repo as gitops
from indexer.pipeline import _batches


def test_blob_sizes_come_from_batch_check(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "small.py").write_text("x = 1\n")
    (tmp_path / "big.bin").write_bytes(b"\0" * 3_000_000)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "-c", "user.email=t@x", "-c", "user.name=t",
         "commit", "-qm", "c"],
        check=True,
    )  # fmt: skip
    repo = git.Repo(str(tmp_path))
    blobs = gitops.tree_blobs(repo, "HEAD")
    missing = "0" * 40
    sizes = gitops.blob_sizes(repo, [*blobs.values(), missing])
    assert sizes == {blobs["small.py"]: 6, blobs["big.bin"]: 3_000_000}


def test_batches_are_bounded_by_bytes_and_keep_the_order() -> None:
    paths = [f"f{i}" for i in range(7)]
    sizes = [10, 10, 50, 5, 100, 1, 1]
    batches = _batches(paths, sizes, 60)
    assert [p for b in batches for p in b] == paths
    assert batches == [["f0", "f1"], ["f2", "f3"], ["f4"], ["f5", "f6"]]
    assert all(sum(sizes[paths.index(p)] for p in b) <= 60 or len(b) == 1 for b in batches)
