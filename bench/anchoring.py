"""Anchoring benchmark on real diffs: two released versions of real packages from PyPI,
committed into a git repository and diffed by git. Every added line (and runs of 2-3 added
lines) becomes a finding that quotes it, with the line number perturbed by 0..20 and the
whitespace drifted, as models do. Reports the share placed on exactly the right lines, and
any placement on a line the forge would refuse, next to the baseline of trusting the line
number the model gave.

    .venv/bin/python -m bench.anchoring [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.review.anchor import Anchor, place  # noqa: E402
from bot.review.diff import FileDiff, LineKind, parse_diff  # noqa: E402

PAIRS = [
    ("requests", "2.31.0", "2.32.3"),
    ("click", "8.1.3", "8.1.7"),
    ("attrs", "23.1.0", "23.2.0"),
    ("flask", "2.3.3", "3.0.0"),
]


def sdist(name: str, version: str, into: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            str(into),
            f"{name}=={version}",
        ],
        check=True,
        capture_output=True,
    )
    archive = next(
        p
        for p in into.iterdir()
        if p.name.lower().startswith(name.lower().replace("-", "_"))
        and version in p.name
        and p.suffixes[-2:] == [".tar", ".gz"]
    )
    out = into / f"{name}-{version}-src"
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    return next(out.iterdir())


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def real_diff(name: str, old: str, new: str, work: Path) -> str:
    repo = work / f"{name}-repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for version in (old, new):
        tree = sdist(name, version, work)
        subprocess.run(
            ["rsync", "-a", "--delete", "--exclude", ".git", f"{tree}/", f"{repo}/"], check=True
        )
        git(repo, "add", "-A")
        git(repo, "-c", "user.email=b@x", "-c", "user.name=b", "commit", "-qm", version)
    return git(repo, "diff", "-M", "HEAD~1", "HEAD", "--", "*.py")


def drift(line: str, rng: random.Random) -> str:
    stripped = line.strip()
    choice = rng.randrange(4)
    if choice == 0:
        return stripped
    if choice == 1:
        return "\t" + stripped + "  "
    if choice == 2:
        return " " * rng.randrange(0, 12) + stripped
    return line + " " * rng.randrange(1, 4)


def findings(file: FileDiff, rng: random.Random) -> list[tuple[str, int, int, int]]:
    """(quote, hint, true_start, true_end) for added lines and runs of added lines."""
    out = []
    for hunk in file.hunks:
        side = [line for line in hunk.new_side() if line.text.strip()]
        for i, line in enumerate(side):
            if line.kind is not LineKind.ADDED or len(line.text.strip()) < 3:
                continue
            assert line.new_no is not None
            size = rng.choice([1, 1, 1, 2, 3])
            span = side[i : i + size]
            if any(s.kind is not LineKind.ADDED for s in span):
                span = [line]
            quote = "\n".join(drift(s.text, rng) for s in span)
            start, end = span[0].new_no, span[-1].new_no
            assert start is not None
            assert end is not None
            offset = rng.randint(0, 20) * rng.choice([-1, 1])
            out.append((quote, start + offset, start, end))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    totals = {
        "findings": 0,
        "right": 0,
        "wrong": 0,
        "unplaced": 0,
        "refused_line": 0,
        "naive_right": 0,
        "naive_refused": 0,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, old, new in PAIRS:
            started = time.perf_counter()
            files = parse_diff(real_diff(name, old, new, Path(tmp)))
            row = dict.fromkeys(totals, 0)
            for file in files:
                for quote, hint, start, end in findings(file, rng):
                    row["findings"] += 1
                    result = place(file, quote, hint)
                    if isinstance(result, Anchor):
                        lines = set(range(result.start_line, result.end_line + 1))
                        if not lines <= file.commentable_lines:
                            row["refused_line"] += 1
                        if (result.start_line, result.end_line) == (start, end):
                            row["right"] += 1
                        else:
                            row["wrong"] += 1
                    else:
                        row["unplaced"] += 1
                    row["naive_right"] += hint == start
                    row["naive_refused"] += hint not in file.commentable_lines
            elapsed = time.perf_counter() - started
            n = max(row["findings"], 1)
            print(
                f"{name} {old}->{new}: {len(files)} files, {row['findings']} findings: "
                f"right {row['right'] / n:.2%}, wrong {row['wrong']}, unplaced "
                f"{row['unplaced']}, on refused lines {row['refused_line']} | naive line "
                f"numbers: right {row['naive_right'] / n:.2%}, refused "
                f"{row['naive_refused'] / n:.2%} ({elapsed:.1f}s incl. download)"
            )
            for key in totals:
                totals[key] += row[key]
    n = max(totals["findings"], 1)
    placed = max(totals["right"] + totals["wrong"], 1)
    print(
        f"TOTAL {totals['findings']} findings: right {totals['right'] / placed:.2%} of those "
        f"placed (goal >= 99%), {totals['right'] / n:.2%} of all; wrong {totals['wrong']}, "
        f"unplaced (ambiguous, listed in the summary) {totals['unplaced']}; on a refused "
        f"line {totals['refused_line']} (goal 0); baseline of trusting the line number: right "
        f"{totals['naive_right'] / n:.2%}, on a refused line "
        f"{totals['naive_refused'] / n:.2%}"
    )


if __name__ == "__main__":
    main()
