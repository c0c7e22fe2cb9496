"""What a review costs besides the model, on a real release-to-release change.

Two released versions of a real package (wheels or sdists from pip: their Python sources),
committed into git and diffed by git. The diff is cut, whole files at a time, to about 1k, 5k
and 20k changed lines; each cut is reviewed by the real pipeline (diff parsing, skip rules,
context from tree-sitter, prompt fitting with the served model's own tokenizer, anchoring,
the second pass) against a model that answers instantly. Reported per size: wall time and
peak Python memory of the review, the cost of just parsing the diff, and their ratio.

    .venv/bin/python -m bench.review_overhead [--package sqlalchemy --old 2.0.54 --new 2.1.1]
        [--find-links DIR]   # offline: pip reads the wheels from DIR only

Prints one JSON object.
"""

# ruff: noqa: ARG002  (InstantModel implements the LLM protocol and ignores its inputs)
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.llm.tokenizer import LocalTokenizer  # noqa: E402
from bot.llm.types import Completion, M, Message, StreamEvent, Structured, Usage  # noqa: E402
from bot.repoconfig import parse_repo_config  # noqa: E402
from bot.review.context import source_text  # noqa: E402
from bot.review.diff import parse_diff  # noqa: E402
from bot.review.pipeline import ReviewInput, review_diff  # noqa: E402

MODEL_DIR = Path.home() / ".cache" / "forge-assist" / "vllm" / "models" / "smollm2-135m-instruct"
SIZES = (1000, 5000, 20000)


class InstantModel:
    """Implements :class:`bot.llm.protocol.LLM`: every structured answer is empty, at once."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def usage(self) -> Usage:
        return Usage(requests=self.calls)

    def _completion(self, text: str) -> Completion:
        return Completion(text, "stop", "instant", "local", Usage(requests=1))

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
    ) -> Completion:
        self.calls += 1
        return self._completion("")

    async def complete_json(
        self,
        messages: Sequence[Message],
        output: type[M],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        schema: Mapping[str, Any] | None = None,
    ) -> Structured[M]:
        self.calls += 1
        fields = output.model_fields
        empty = {name: [] for name in fields if name in ("findings", "scores")}
        return Structured(output.model_validate(empty), self._completion("{}"), False)

    async def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError
        yield


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def fetch(name: str, version: str, into: Path, find_links: str | None) -> Path:
    """The package's Python sources at ``version``, from its wheel (or sdist) via pip."""
    dest = into / f"dl-{version}"
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest)]
    if find_links:
        cmd += ["--no-index", "--find-links", find_links]
    subprocess.run([*cmd, f"{name}=={version}"], check=True, capture_output=True)
    (archive,) = list(dest.iterdir())
    out = into / f"src-{version}"
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if member.endswith(".py"):
                    zf.extract(member, out)
    else:
        subprocess.run(["tar", "-xzf", str(archive), "-C", str(out.parent)], check=True)
        out = next(p for p in out.parent.iterdir() if p.is_dir() and version in p.name)
    return out


def real_change(args: argparse.Namespace, work: Path) -> tuple[str, dict[str, str]]:
    """The whole diff between the releases and the new side's sources."""
    repo = work / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for version in (args.old, args.new):
        tree = fetch(args.package, version, work, args.find_links)
        subprocess.run(
            ["rsync", "-a", "--delete", "--exclude", ".git", f"{tree}/", f"{repo}/"], check=True
        )
        git(repo, "add", "-A")
        git(repo, "-c", "user.email=b@x", "-c", "user.name=b", "commit", "-qm", version)
    diff = git(repo, "diff", "-M", "HEAD~1", "HEAD", "--", "*.py")
    sources: dict[str, str] = {}
    for path in git(repo, "diff", "--name-only", "HEAD~1", "HEAD", "--", "*.py").split():
        blob = subprocess.run(
            ["git", "-C", str(repo), "show", f"HEAD:{path}"], capture_output=True, check=False
        )
        text = source_text(blob.stdout) if blob.returncode == 0 else None
        if text is not None:
            sources[path] = text
    return diff, sources


def split_files(diff: str) -> list[tuple[str, int]]:
    """The diff's per-file sections with their changed-line counts."""
    sections: list[str] = []
    for chunk in diff.split("\ndiff --git ")[0:]:
        sections.append(chunk if chunk.startswith("diff --git ") else "diff --git " + chunk)
    out = []
    for section in sections:
        changed = sum(
            1
            for line in section.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        )
        out.append((section.rstrip("\n") + "\n", changed))
    return out


def cut(files: list[tuple[str, int]], target: int) -> tuple[str, int]:
    text, total = [], 0
    for section, changed in files:
        if total >= target:
            break
        text.append(section)
        total += changed
    return "".join(text), total


async def review(diff: str, sources: dict[str, str], tokenizer: LocalTokenizer) -> int:
    request = ReviewInput("Release", "A release-to-release change.", diff,
                          parse_repo_config(""), sources=sources)  # fmt: skip
    model = InstantModel()
    result = await review_diff(request, model, tokenizer, nonce="b3nch000", context_tokens=8192)
    return result.files_reviewed


def measure(
    diff: str, sources: dict[str, str], tokenizer: LocalTokenizer, memory: bool
) -> dict[str, Any]:
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(3):
        parse_diff(diff)
    parse_s = (time.perf_counter() - started) / 3
    parse_cpu_s = (time.process_time() - cpu_started) / 3
    started, cpu_started = time.perf_counter(), time.process_time()
    files = asyncio.run(review(diff, sources, tokenizer))
    wall_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    peak = 0
    if memory:  # a second run: tracemalloc slows Python down several times
        tracemalloc.start()
        asyncio.run(review(diff, sources, tokenizer))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "files_reviewed": files,
        "review_s": round(wall_s, 3),
        "review_cpu_s": round(cpu_s, 3),
        "parse_diff_s": round(parse_s, 4),
        "parse_diff_cpu_s": round(parse_cpu_s, 4),
        "ratio_to_parse_diff": round(wall_s / parse_s, 1) if parse_s else None,
        "cpu_ratio_to_parse_diff": round(cpu_s / parse_cpu_s, 1) if parse_cpu_s else None,
        "peak_python_mib": round(peak / 2**20, 1) if memory else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="sqlalchemy")
    parser.add_argument("--old", default="2.0.54")
    parser.add_argument("--new", default="2.1.1")
    parser.add_argument("--find-links", default=None)
    parser.add_argument("--tokenizer", default=str(MODEL_DIR))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args(argv)
    tokenizer = LocalTokenizer(Path(args.tokenizer))
    with tempfile.TemporaryDirectory(prefix="assist-overhead-") as tmp:
        diff, sources = real_change(args, Path(tmp))
    files = split_files(diff)
    asyncio.run(review(cut(files, 50)[0], sources, tokenizer))  # warm up: grammars, tokenizer
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        text, changed = cut(files, size)
        paths = {f.path for f in parse_diff(text)}
        mine = {p: src for p, src in sources.items() if p in paths}  # as a forge would give
        row = {"changed_lines": changed, **measure(text, mine, tokenizer, not args.no_memory)}
        sys.stderr.write(json.dumps(row) + "\n")
        row["s_per_1k_lines"] = round(row["review_s"] / (changed / 1000), 3)
        row["cpu_s_per_1k_lines"] = round(row["review_cpu_s"] / (changed / 1000), 3)
        rows.append(row)
    report = {"change": f"{args.package} {args.old} -> {args.new}", "sizes": rows}
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
