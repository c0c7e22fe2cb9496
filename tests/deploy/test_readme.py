"""The README's deployment section, followed line by line as a new user would, up to the
point this machine allows: everything before `docker compose up` (which needs a Docker
engine) runs for real, with the real Compose CLI standing in as `docker compose`."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, validate_for_serving
from tests.deploy.conftest import COMPOSE_FILE, ROOT

README = ROOT / "README.md"
# What the user types into .env when the README says `$EDITOR .env`.
EDITOR = """\
import os, sys
path = sys.argv[1]
lines = open(path).read().splitlines()
edits = {"POSTGRES_PASSWORD": os.environ["PASSWORD"],
         "ASSIST_GITHUB_WEBHOOK_SECRETS": os.environ["SECRET"]}
out = []
for line in lines:
    key = line.split("=", 1)[0]
    out.append(f"{key}={edits[key]}" if key in edits and line == f"{key}=" else line)
open(path, "w").write("\\n".join(out) + "\\n")
"""


def deployment_commands() -> list[str]:
    text = README.read_text()
    section = text.split("\n## Deployment\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the deployment section has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture
def checkout(tmp_path: Path, compose_bin: str) -> tuple[Path, dict[str, str]]:
    """The files of a clone that the steps use, and a PATH where `docker compose` is the
    Compose CLI and `$EDITOR` edits .env as the section asks."""
    (tmp_path / "deploy").mkdir()
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE.read_text())
    (tmp_path / "deploy" / "env.example").write_text((ROOT / "deploy" / "env.example").read_text())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(
        f'#!/bin/sh\n[ "$1" = compose ] || exit 127\nshift\nexec "{compose_bin}" "$@"\n'
    )
    editor = bin_dir / "editor"
    editor.write_text(f"#!{sys.executable}\n{EDITOR}")
    for script in (docker, editor):
        script.chmod(0o755)
    python_dir = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{bin_dir}:{python_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "EDITOR": str(editor),
    }
    return tmp_path, env


def test_the_deployment_section_works_up_to_docker_compose_up(
    checkout: tuple[Path, dict[str, str]], compose_bin: str
) -> None:
    directory, env = checkout
    commands = deployment_commands()
    engine = next(i for i, c in enumerate(commands) if c.startswith("docker compose up"))
    assert engine >= 4, commands
    secrets: list[str] = []
    for command in commands[:engine]:
        if command.startswith("$EDITOR"):
            env = {**env, "PASSWORD": secrets[0], "SECRET": secrets[1]}
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        if command.startswith("python3 -c"):
            # "a fresh value for each secret": the user runs it once per secret.
            secrets = [result.stdout.strip()]
            again = subprocess.run(
                ["bash", "-c", command], env=env, capture_output=True, text=True, check=True
            )
            secrets.append(again.stdout.strip())
            assert secrets[0] != secrets[1]
            assert all(len(s) >= 32 for s in secrets)
    dotenv = directory / ".env"
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    # What `up` would start: the api's and the workers' environment as compose renders it.
    rendered = subprocess.run(
        [compose_bin, "config", "--format", "json"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    model = json.loads(rendered.stdout)
    assert "vllm-cpu" in model["services"]  # COMPOSE_PROFILES=cpu from env.example
    for name in ("api", "migrate", "worker-review"):
        environment = model["services"][name]["environment"]
        values = {
            key.removeprefix("ASSIST_").lower(): value
            for key, value in environment.items()
            if key.startswith("ASSIST_")
        }
        settings = Settings.model_validate(values)
        assert settings.database_url.startswith("postgresql+psycopg://assist:")
        if name == "api":
            validate_for_serving(settings)  # `assist serve` would start, not refuse
    # What is left needs a Docker engine: starting the containers and asking the api.
    assert all(c.startswith("curl") for c in commands[engine + 1 :]), commands
