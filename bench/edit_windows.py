"""Edit prompts fitted to 2k, 8k and 32k contexts on real files of over 1,000 lines.

For each real file (the interpreter's own standard library: ``inspect.py``, ``typing.py``,
``argparse.py``, ``tarfile.py``...; plus any ``--extra`` file) and a sample of its functions and
methods, an issue names the function with the first sentence of its docstring, the model's
file pick is the file with that function (as :mod:`bench.fix_localisation` measures how often
that pick is right), and the edit prompt is fitted exactly as ``/assist fix`` does it
(:func:`bot.fix.pipeline.scopes_to_show` and :func:`bot.fix.pipeline.windows_to_show`, the
sized answer schema, SmolLM2's tokenizer). Reported per context:

- ``whole``: the function is shown whole in a window; ``part``: only a part of it (the scope
  was split or trimmed to fit); ``out``: not shown; ``too large``: the fix would report the
  scope as too large; ``file fits``: the baseline, the share of cases where the whole file
  would fit the same budget (the edit step before windows sent whole files);
- tokens of the prompt as a share of the budget, windows per prompt;
- the time to fit one prompt against the time to tokenize the whole file once (the cost of
  the old whole-file prompt's token count), measured in the same run.

    .venv/bin/python -m bench.edit_windows [--per-file 12] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.fix.answers import EditAnswer, FilePick, edit_allowance
from bot.fix.pipeline import FixOptions, edit_messages, scopes_to_show, windows_to_show
from bot.fix.prompt import IssueText
from bot.fix.windows import scopes_of
from bot.llm import LocalTokenizer, sized_schema
from bot.llm.structured import with_schema
from indexer.parsing import parse_source

CONTEXTS = (2048, 8192, 32768)
STDLIB = ("inspect.py", "typing.py", "argparse.py", "tarfile.py", "difflib.py", "pathlib.py")
MODEL_DIR = Path(
    os.environ.get("ASSIST_VLLM_HOME", str(Path.home() / ".cache" / "forge-assist" / "vllm"))
) / "models" / "smollm2-135m-instruct"  # fmt: skip
NONCE = "0123456789abcdef"


@dataclass
class Tally:
    whole: int = 0
    part: int = 0
    out: int = 0
    too_large: int = 0
    file_fits: int = 0
    cases: int = 0


def real_files(extra: list[Path]) -> dict[str, str]:
    lib = Path(os.__file__).parent
    files = {
        f"stdlib/{name}": (lib / name).read_text() for name in STDLIB if (lib / name).is_file()
    }
    for path in extra:
        files[path.name] = path.read_text()
    return {p: t for p, t in files.items() if t.count("\n") > 1000}


def cases_of(text: str, per_file: int, rng: random.Random) -> list[IssueText]:
    parsed = parse_source(text.encode(), "python")
    documented = [
        d
        for d in parsed.definitions
        if d.kind in ("function", "method") and len(d.docstring.split()) >= 4
    ]
    chosen = rng.sample(documented, min(per_file, len(documented)))
    return [
        IssueText(None, f"`{d.qualname}` misbehaves", d.docstring.split(".")[0].strip())
        for d in chosen
    ]


async def run(per_file: int, seed: int, extra: list[Path]) -> None:
    tokenizer = LocalTokenizer(MODEL_DIR)
    files = real_files(extra)
    rng = random.Random(seed)
    issues = {path: cases_of(text, per_file, rng) for path, text in files.items()}
    tally = {ctx: Tally() for ctx in CONTEXTS}
    used: dict[int, list[float]] = {ctx: [] for ctx in CONTEXTS}
    windows: dict[int, list[int]] = {ctx: [] for ctx in CONTEXTS}
    fit_s: dict[int, list[float]] = {ctx: [] for ctx in CONTEXTS}
    whole_s: list[float] = []
    for context in CONTEXTS:
        options = FixOptions.for_context(context)
        budget = options.window_budget
        schema = await sized_schema(EditAnswer, tokenizer, edit_allowance(options.answer_tokens))
        for path, text in files.items():
            texts = {path: text}
            scopes = {s.qualname: s for s in scopes_of(path, text)}
            for issue in issues[path]:
                qualname = issue.title.split("`")[1]
                pick = FilePick(path=path, symbols=[qualname.rsplit(".", 1)[-1]])
                started = time.perf_counter()
                ranked = scopes_to_show(issue, [pick], texts, options=options)
                fitted = await windows_to_show(
                    issue, [pick], texts, ranked, tokenizer=tokenizer, schema=schema,
                    nonce=NONCE, options=options,
                )  # fmt: skip
                fit_s[context].append(time.perf_counter() - started)
                t = tally[context]
                t.cases += 1
                target = scopes[qualname]
                if fitted.too_large is not None:
                    t.too_large += 1
                else:
                    inside = [
                        w
                        for w in fitted.windows
                        if w.start_line <= target.end_line and target.start_line <= w.end_line
                    ]
                    if any(
                        w.start_line <= target.start_line and target.end_line <= w.end_line
                        for w in inside
                    ):
                        t.whole += 1
                    elif inside:
                        t.part += 1
                    else:
                        t.out += 1
                    messages = edit_messages(
                        issue, [pick], texts, fitted.windows, fitted.signatures, nonce=NONCE
                    )
                    tokens = await tokenizer.count_chat(with_schema(messages, EditAnswer, schema))
                    used[context].append(tokens / budget)
                    windows[context].append(len(fitted.windows))
                started = time.perf_counter()
                file_tokens = len(await tokenizer.encode(text))
                whole_s.append(time.perf_counter() - started)
                t.file_fits += file_tokens <= budget
    lines = {p: t.count("\n") + 1 for p, t in files.items()}
    print(
        f"{len(files)} real files of {min(lines.values())}-{max(lines.values())} lines "
        f"({', '.join(files)}), {sum(len(v) for v in issues.values())} functions, "
        f"SmolLM2 tokenizer; answer budget min(1536, 3/8 of the context), as assist fix"
    )
    print(
        f"{'context':>8} {'whole':>6} {'part':>6} {'out':>6} {'too large':>9} {'file fits':>9} "
        f"{'budget used':>11} {'windows':>7} {'fit ms':>7} {'ratio':>6}"
    )
    base = statistics.median(whole_s)
    for context in CONTEXTS:
        t = tally[context]
        n = max(1, t.cases)
        median_fit = statistics.median(fit_s[context])
        print(
            f"{context:>8} {t.whole / n:6.1%} {t.part / n:6.1%} {t.out / n:6.1%} "
            f"{t.too_large / n:9.1%} {t.file_fits / n:9.1%} "
            f"{statistics.median(used[context] or [0.0]):11.1%} "
            f"{statistics.median(windows[context] or [0]):7.1f} {median_fit * 1000:7.1f} "
            f"{median_fit / base:6.1f}x"
        )
    print(f"baseline: tokenizing a whole file once, median {base * 1000:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-file", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more real files")
    args = ap.parse_args()
    if not (MODEL_DIR / "tokenizer.json").is_file():
        sys.exit(f"SmolLM2's tokenizer is missing under {MODEL_DIR}: run deploy/cpu-model/setup.sh")
    asyncio.run(run(args.per_file, args.seed, args.extra))


if __name__ == "__main__":
    main()
