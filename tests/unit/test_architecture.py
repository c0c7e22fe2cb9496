"""The import rules of docs/architecture.md hold, a wrong import breaks them, no module cycle
exists, and the web process loads no worker machinery."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(root), "HOME": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_import_contracts_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_a_wrong_import_breaks_the_contracts(tmp_path: Path) -> None:
    for name in ("bot", "indexer"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    verify = tmp_path / "bot" / "intake" / "verify.py"
    verify.write_text(verify.read_text() + "\nimport bot.fix.pipeline  # noqa: E402\n")
    store = tmp_path / "indexer" / "store.py"
    store.write_text(store.read_text() + "\nimport bot.settings  # noqa: E402\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "bot.intake.verify -> bot.fix.pipeline" in done.stdout  # layers and web-lean
    assert "indexer.store -> bot.settings" in done.stdout  # the indexer stands alone
    assert "BROKEN" in done.stdout


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph("bot", "indexer")
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == []


def test_every_path_the_map_names_exists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    paths = set(re.findall(r"`((?:bot|indexer|tests|bench|docs)/[\w./-]*)`", text))
    assert len(paths) > 30
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists())
    assert missing == []


_PROBE = """
import json, sys
from bot.web.asgi import create
create()
print(json.dumps(sorted(m for m in sys.modules)))
"""


def test_web_process_loads_no_worker_machinery() -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/"),
        "ASSIST_GITHUB_WEBHOOK_SECRETS": "architecture-test-secret-0123456789",
        "ASSIST_GITLAB_WEBHOOK_TOKENS": "architecture-test-token-0123456789",
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    heavy = {
        "tree_sitter",
        "numpy",
        "tokenizers",
        "qdrant_client",
        "github",
        "gitlab",
        "git",
        "onnxruntime",
        "unidiff",
        "alembic",
        "indexer",
        "bot.llm",
        "bot.forge",
        "bot.review.pipeline",
        "bot.fix",
        "bot.jobs.review",
        "bot.jobs.worker",
    }
    assert heavy & loaded == set()
    assert {"bot.web.app", "bot.intake.core", "bot.jobs.queue"} <= loaded
