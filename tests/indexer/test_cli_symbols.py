from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from indexer.cli import app
from indexer.state import DefSummary, FileSymbols
from indexer.symbols import SymbolGraph, rank_definitions, render, repo_map
from indexer.tokens import HFTokenCounter
from tests.indexer.conftest import GitRepo


def fs(path: str, defs: list[str], refs: list[str]) -> FileSymbols:
    return FileSymbols(
        path,
        "sha",
        tuple(DefSummary(n, n, "function", i + 1, f"def {n}()") for i, n in enumerate(defs)),
        tuple(refs),
    )


GRAPH = SymbolGraph.build(
    [
        fs("core.py", ["parse", "render"], []),
        fs("util.py", ["helper", "unused"], ["parse"]),
        fs("views.py", ["index"], ["render", "helper", "parse"]),
        fs("other.py", ["elsewhere"], ["unused"]),
    ]
)


def test_symbol_graph_who_defines_and_references() -> None:
    assert GRAPH.defined_in("parse") == {"core.py"}
    assert GRAPH.referenced_by("parse") == {"util.py", "views.py"}
    assert GRAPH.defined_in("nothing") == frozenset()


def test_repo_map_ranks_what_the_changed_files_use(counter: HFTokenCounter) -> None:
    ranked = rank_definitions(GRAPH, ["views.py"])
    names = [e.definition.name for e in ranked]
    assert set(names[:3]) == {"parse", "render", "helper"}
    assert "index" not in names  # definitions in the changed files are not repeated
    assert names.index("unused") > names.index("helper")
    full = repo_map(GRAPH, ["views.py"], budget=500, counter=counter)
    assert "core.py:\n  1: def parse()\n  2: def render()" in full.text
    one = counter.count([render(ranked[:1])])[0]
    tight = repo_map(GRAPH, ["views.py"], budget=one + 3, counter=counter)
    assert tight.tokens <= one + 3
    assert 0 < len(tight.entries) < len(full.entries)
    assert repo_map(GRAPH, ["views.py"], budget=one - 1, counter=counter).entries == ()


def test_cli_index_and_search(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit(
        {
            "geometry.py": (
                "def polygon_area(points):\n    return abs(sum(x * y for x, y in points)) / 2\n"
            ),
            "names.py": "def greet(name):\n    return 'hello ' + name\n",
        }
    )
    runner = CliRunner()
    cache = str(tmp_path / "cache")
    result = runner.invoke(app, ["index", str(git_repo.root), "--cache-dir", cache])
    assert result.exit_code == 0, result.output
    assert "2 files changed" in result.output
    found = runner.invoke(
        app, ["search", "area of a polygon", "--repo", str(git_repo.root), "--cache-dir", cache]
    )
    assert found.exit_code == 0, found.output
    first = found.output.splitlines()[0]
    assert first.startswith("geometry.py:1-2 polygon_area")
    bad = runner.invoke(
        app, ["search", "x", "--repo", str(git_repo.root), "--cache-dir", cache, "--mode", "nope"]
    )
    assert bad.exit_code != 0
