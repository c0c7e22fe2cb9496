"""SEARCH/REPLACE application on real changes, with the damage models do to them.

Real changes: two released sdists each of requests, click, attrs and flask, committed into git
and diffed by git (as in bench/anchoring.py). Every hunk of a modified .py file becomes one
edit block: SEARCH = its old side (context and removed lines), REPLACE = its new side. Each
block gets one kind of damage, in turn:

- ``clean``: as git wrote it;
- ``indent``: the whole block (SEARCH and REPLACE) shifted in or out by 2-8 spaces or a tab;
- ``trailing``: trailing spaces or tabs on some SEARCH lines;
- ``neighbour``: the first or last context line replaced by another line of the file from
  nearby (a model recalling the wrong neighbour), in SEARCH and REPLACE alike;
- ``elided``: the middle of a run of 3+ context lines replaced by ``# ...``.

Ours: :func:`bot.fix.edits.apply_edit` on the old file. Baseline: ``git apply`` (and ``git
apply --ignore-whitespace``) of the same damaged block written as a unified diff with the
true line numbers. A result is right when the file equals the old file with that hunk
applied; wrong when it applied but differs (the number that must be 0); else rejected. For
our rejections, the share whose "nearest real text" contains the true lines (what the retry
shows the model) is printed too.

    .venv/bin/python -m bench.edits [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.anchoring import PAIRS, git, sdist  # noqa: E402
from bot.fix.edits import EditBlock, Rejected, apply_edit, split_lines  # noqa: E402
from bot.review.diff import LineKind, parse_diff  # noqa: E402

DAMAGE = ("clean", "indent", "trailing", "neighbour", "elided")


@dataclass(frozen=True)
class Case:
    path: str
    old: list[str]  # the old file's lines
    start: int  # 0-based first old line of the hunk
    search: list[str]
    replace: list[str]
    kinds: list[str]  # per old-side line: "ctx" or "del"; same order as search
    new_kinds: list[str]  # per new-side line: "ctx" or "add"

    @property
    def expected(self) -> list[str]:
        return self.old[: self.start] + self.replace + self.old[self.start + len(self.search) :]


def repo_pair(name: str, old: str, new: str, work: Path) -> Path:
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
    return repo


def cases(repo: Path) -> list[Case]:
    out: list[Case] = []
    diff = git(repo, "diff", "HEAD~1", "HEAD", "--", "*.py")
    for file in parse_diff(diff):
        if file.status != "modified" or file.binary:
            continue
        old = split_lines(git(repo, "show", f"HEAD~1:{file.path}"))
        for hunk in file.hunks:
            search, kinds, replace, new_kinds = [], [], [], []
            for line in hunk.lines:
                if line.kind is LineKind.ADDED:
                    replace.append(line.text)
                    new_kinds.append("add")
                elif line.kind is LineKind.REMOVED:
                    search.append(line.text)
                    kinds.append("del")
                else:
                    search.append(line.text)
                    kinds.append("ctx")
                    replace.append(line.text)
                    new_kinds.append("ctx")
            if not any(s.strip() for s in search):
                continue
            start = hunk.old_start - 1
            if old[start : start + len(search)] != search:
                continue  # a hunk the parser and git disagree on: not a fair case
            out.append(Case(file.path, old, start, search, replace, kinds, new_kinds))
    return out


def damage(case: Case, kind: str, rng: random.Random) -> tuple[list[str], list[str]] | None:
    s, r = list(case.search), list(case.replace)
    if kind == "clean":
        return s, r
    if kind == "indent":
        if rng.random() < 0.5:
            pad = rng.choice(["  ", "    ", "        ", "\t"])
            return [pad + x if x.strip() else x for x in s], [
                pad + x if x.strip() else x for x in r
            ]
        common = min((len(x) - len(x.lstrip()) for x in s if x.strip()), default=0)
        if common == 0:
            return None
        cut = min(common, rng.choice([2, 4, 8]))
        if any(x.strip() and len(x) - len(x.lstrip()) < cut for x in r):
            return None
        return [x[cut:] if x.strip() else x for x in s], [x[cut:] if x.strip() else x for x in r]
    if kind == "trailing":
        return [x + rng.choice(["  ", "\t", " "]) if rng.random() < 0.5 else x for x in s], r
    if kind == "neighbour":
        end = "first" if rng.random() < 0.5 else "last"
        index = 0 if end == "first" else len(s) - 1
        if case.kinds[index] != "ctx" or (end == "first" and case.new_kinds[0] != "ctx"):
            return None
        if end == "last" and case.new_kinds[-1] != "ctx":
            return None
        at = case.start + index
        others = [
            case.old[i]
            for i in range(max(0, at - 6), min(len(case.old), at + 7))
            if case.old[i].strip() and case.old[i] != case.old[at]
        ]
        if not others:
            return None
        wrong = rng.choice(others)
        if end == "first":
            return [wrong, *s[1:]], [wrong, *r[1:]]
        return [*s[:-1], wrong], [*r[:-1], wrong]
    # elided: the middle of a run of 3+ context lines, mirrored in REPLACE
    runs = _context_runs(case)
    if not runs:
        return None
    lo, hi, r_lo = rng.choice(runs)
    n = hi - lo
    marker = " " * (len(s[lo + 1]) - len(s[lo + 1].lstrip())) + "# ..."
    return (
        [*s[: lo + 1], marker, *s[hi - 1 :]],
        [*r[: r_lo + 1], marker, *r[r_lo + n - 1 :]],
    )


def _context_runs(case: Case) -> list[tuple[int, int, int]]:
    """(start, end) in SEARCH and start in REPLACE of runs of 3+ context lines."""
    runs = []
    i = 0
    new_index = 0  # position in REPLACE of search line i when it is context
    positions: list[int | None] = []
    for kind in case.kinds:
        if kind == "ctx":
            while case.new_kinds[new_index] != "ctx":
                new_index += 1
            positions.append(new_index)
            new_index += 1
        else:
            positions.append(None)
    while i < len(case.kinds):
        if case.kinds[i] != "ctx":
            i += 1
            continue
        j = i + 1
        while (
            j < len(case.kinds)
            and case.kinds[j] == "ctx"
            and positions[j] == (positions[j - 1] or 0) + 1  # no added line in between
        ):
            j += 1
        if j - i >= 3:
            start = positions[i]
            assert start is not None
            runs.append((i, j, start))
        i = j
    return runs


def as_diff(path: str, case: Case, search: list[str], replace: list[str]) -> str:
    """The damaged block as a unified diff hunk (with the true old line number)."""
    lines = [f"--- a/{path}", f"+++ b/{path}"]
    matcher_s, matcher_r = search, replace
    body: list[str] = []
    i = j = 0
    # context lines are those SEARCH and REPLACE share in order (a simple LCS-free walk: the
    # damaged copies keep the hunk's structure, so pair them by the original kinds)
    for kind in case.kinds:
        if kind == "del":
            body.append("-" + matcher_s[i])
            i += 1
            continue
        while j < len(case.new_kinds) and case.new_kinds[j] == "add" and j < len(matcher_r):
            body.append("+" + matcher_r[j])
            j += 1
        body.append(" " + matcher_s[i] if i < len(matcher_s) else " ")
        i += 1
        j += 1
    while j < len(matcher_r):
        body.append("+" + matcher_r[j])
        j += 1
    old_n = sum(1 for b in body if b[0] in " -")
    new_n = sum(1 for b in body if b[0] in " +")
    lines.append(f"@@ -{case.start + 1},{old_n} +{case.start + 1},{new_n} @@")
    return "\n".join(lines + body) + "\n"


def git_apply(scratch: Path, case: Case, patch: str, *flags: str) -> bool:
    target = scratch / "f.py"
    target.write_text("\n".join(case.old) + "\n")
    (scratch / "p.diff").write_text(patch.replace(f"a/{case.path}", "a/f.py").replace(
        f"b/{case.path}", "b/f.py"))  # fmt: skip
    done = subprocess.run(
        ["git", "apply", *flags, "p.diff"], cwd=scratch, capture_output=True, check=False
    )
    return done.returncode == 0 and split_lines(target.read_text()) == case.expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", action="store_true", help="print wrong and rejected cases")
    parser.add_argument("--show-kinds", nargs="*", default=list(DAMAGE))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    stats: Counter[tuple[str, str]] = Counter()
    methods: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scratch = work / "scratch"
        scratch.mkdir()
        git(scratch, "init", "-q")
        all_cases: list[Case] = []
        for name, old, new in PAIRS:
            found = cases(repo_pair(name, old, new, work))
            print(f"{name} {old}->{new}: {len(found)} hunks")
            all_cases += found
        started = time.perf_counter()
        for n, case in enumerate(all_cases):
            kind = DAMAGE[n % len(DAMAGE)]
            damaged = damage(case, kind, rng)
            if damaged is None:
                kind = "clean"
                damaged = case.search, case.replace
            search, replace = damaged
            stats[(kind, "cases")] += 1
            block = EditBlock(case.path, "\n".join(search) + "\n", "\n".join(replace) + "\n")
            result = apply_edit("\n".join(case.old) + "\n", block)
            if isinstance(result, Rejected):
                stats[(kind, "rejected")] += 1
                if args.show and kind in args.show_kinds:
                    print("REJECTED", result.problem, result.detail, block, sep="\n")
                truth = "\n".join(line.strip() for line in case.search if line.strip())
                near = "\n".join(line.strip() for line in result.nearest.split("\n"))
                stats[(kind, "retry_has_truth")] += truth in near
            elif split_lines(result[0]) == case.expected:
                stats[(kind, "right")] += 1
                methods[result[1].method.value] += 1
            else:
                stats[(kind, "wrong")] += 1
                if args.show:
                    print("WRONG", kind, result[1].method, case.path, case.start, block, sep="\n")
            patch = as_diff(case.path, case, search, replace)
            stats[(kind, "git")] += git_apply(scratch, case, patch)
            stats[(kind, "git_ws")] += git_apply(scratch, case, patch, "--ignore-whitespace")
        elapsed = time.perf_counter() - started
    header = f"{'damage':10} {'cases':>6} {'ours right':>11} {'wrong':>6} {'rejected':>9}"
    header += f" {'retry shows truth':>18} {'git apply':>10} {'--ignore-ws':>12}"
    print(header)
    total: Counter[str] = Counter()
    for kind in DAMAGE:
        keys = ("cases", "right", "wrong", "rejected", "retry_has_truth", "git", "git_ws")
        row = {k: stats[(kind, k)] for k in keys}
        total.update(row)
        _row(kind, row)
    _row("TOTAL", dict(total))
    print(f"methods of the right ones: {dict(methods)}; {elapsed:.1f}s for ours + git apply x2")


def _row(label: str, row: dict[str, int]) -> None:
    n = max(row["cases"], 1)
    rejected = max(row["rejected"], 1)
    print(
        f"{label:10} {row['cases']:6d} {row['right'] / n:11.2%} {row['wrong']:6d} "
        f"{row['rejected']:9d} {row['retry_has_truth'] / rejected:18.0%} "
        f"{row['git'] / n:10.2%} {row['git_ws'] / n:12.2%}"
    )


if __name__ == "__main__":
    main()
