"""`assist index` and `assist search` as a user runs them: the cache directory from Settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.processes import ROOT, assist_cmd, assist_env


def test_index_then_search(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "config.py").write_text(
        'def parse_config(path):\n    """Read the settings file."""\n    return open(path).read()\n'
    )
    (repo / "cache.py").write_text("class Cache:\n    def get(self, key):\n        return None\n")
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "init"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    env = assist_env({"ASSIST_CACHE_DIR": str(tmp_path / "cache")})
    indexed = subprocess.run(
        assist_cmd("index", str(repo)),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert indexed.returncode == 0, indexed.stderr
    assert "2 files changed" in indexed.stdout
    assert (tmp_path / "cache" / "index").is_dir()
    found = subprocess.run(
        assist_cmd("search", "read the settings file", "--repo", str(repo)),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    first = found.stdout.splitlines()[0]
    assert first.startswith("config.py:1-3")
