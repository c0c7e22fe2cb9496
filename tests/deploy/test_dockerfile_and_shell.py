"""deploy/Dockerfile (hadolint and the properties we promise) and every shell script."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, tool

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
SHELL_SCRIPTS = sorted(
    {
        *ROOT.glob("deploy/**/*.sh"),
        *(p for p in (ROOT / "scripts").iterdir() if p.is_file()),
    }
)
OURS = sorted(ROOT.glob("deploy/**/*.sh"))


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for word, rest in instructions(text):
        if word == "FROM":
            current = rest.split(" AS ")[-1] if " AS " in rest else rest
            found[current] = []
        elif current:
            found[current].append((word, rest))
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install .\nUSER root\n")
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3003" in result.stdout  # cd in RUN


def test_base_image_is_pinned_to_an_exact_tag() -> None:
    (arg,) = [
        rest
        for word, rest in instructions(DOCKERFILE.read_text())
        if word == "ARG" and rest.startswith("PYTHON_IMAGE=")
    ]
    image = arg.split("=", 1)[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image
    for word, rest in instructions(DOCKERFILE.read_text()):
        if word == "FROM":
            assert rest.startswith("${PYTHON_IMAGE}"), rest


def test_runtime_stage_is_the_default_non_root_and_healthy() -> None:
    found = stages(DOCKERFILE.read_text())
    assert list(found)[-1] == "runtime"  # `docker build` without --target builds it
    assert {"build", "runtime", "cpu-model"} <= set(found)
    runtime = dict(found["runtime"])
    assert runtime["USER"] == "10001:10001"
    assert json.loads(runtime["ENTRYPOINT"]) == ["assist"]
    assert json.loads(runtime["CMD"]) == ["serve"]
    assert "/healthz" in runtime["HEALTHCHECK"]
    assert "org.opencontainers.image.version" in runtime["LABEL"]
    assert "org.opencontainers.image.revision" in runtime["LABEL"]
    assert any(w == "COPY" and r.startswith("--from=build ") for w, r in found["runtime"])
    # No compiler in the image that runs.
    assert not any("build-essential" in r for w, r in found["runtime"] if w == "RUN")


def test_cpu_model_stage_runs_the_repository_scripts() -> None:
    stage = stages(DOCKERFILE.read_text())["cpu-model"]
    assert any("/opt/cpu-model/setup.sh" in rest for word, rest in stage if word == "RUN")
    settings = dict(stage)
    assert json.loads(settings["ENTRYPOINT"])[0] == "/opt/cpu-model/serve.sh"
    assert settings["USER"] == "10001:10001"
    assert "/health" in settings["HEALTHCHECK"]


def test_runtime_installs_the_package_build_copies() -> None:
    text = DOCKERFILE.read_text()
    for path in ("pyproject.toml", "bot", "indexer"):
        assert re.search(rf"^COPY .*\b{path}\b", text, re.MULTILINE), path
        assert (ROOT / path).exists(), path


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_scripts_parse(script: Path) -> None:
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_bash_n_catches_a_syntax_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sh"
    broken.write_text('#!/usr/bin/env bash\nif [[ -n "$x" ]]; then\n  echo x\n')
    result = subprocess.run(["bash", "-n", str(broken)], capture_output=True, check=False)
    assert result.returncode != 0


def test_shellcheck_finds_no_warnings_in_deploy_scripts() -> None:
    result = subprocess.run(
        [tool("shellcheck"), "--severity=warning", *map(str, OURS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_the_build_context_holds_only_what_the_stages_copy() -> None:
    """deploy/Dockerfile.dockerignore (BuildKit reads it beside the Dockerfile): an allowlist,
    so a developer's .venv, .assist (secrets, databases) and .git never reach the builder."""
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    sources = set()
    for word, rest in instructions(DOCKERFILE.read_text()):
        if word == "COPY" and not rest.startswith("--from="):
            *copied, _destination = rest.split()
            sources.update(copied)
    assert sources == allowed
    for source in sources:
        assert (ROOT / source).exists(), source
