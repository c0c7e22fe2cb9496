"""docker-compose.yml against the Compose Specification, and against what the bot needs."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.intake.routing import QueueName
from tests.deploy.conftest import (
    COMPOSE_FILE,
    ROOT,
    gpu_serve_flags,
    run_compose,
    tool,
    vendored_schema,
)

ENV_EXAMPLE = ROOT / "deploy" / "env.example"
PASSWORD = "compose-test-password-0123456789"
ENV = {
    "POSTGRES_PASSWORD": PASSWORD,
    "ASSIST_LLM_MODEL": "smollm2-135m-instruct",
    "ASSIST_LLM_CONTEXT_TOKENS": "2048",
}
GPU_EDITS = {
    "COMPOSE_PROFILES=cpu": "COMPOSE_PROFILES=gpu",
    "ASSIST_LLM_MODEL=smollm2-135m-instruct": "ASSIST_LLM_MODEL=qwen2.5-coder-32b",
    "ASSIST_LLM_CONTEXT_TOKENS=2048": "ASSIST_LLM_CONTEXT_TOKENS=32768",
}


def env_from_example(edits: dict[str, str]) -> str:
    """deploy/env.example as a new user fills it in: the password, and the profile's edits."""
    text = ENV_EXAMPLE.read_text()
    for old, new in {"POSTGRES_PASSWORD=": f"POSTGRES_PASSWORD={PASSWORD}", **edits}.items():
        assert f"\n{old}\n" in text, f"env.example has no line {old!r}"
        text = text.replace(f"\n{old}\n", f"\n{new}\n")
    return text


ASSIST_SERVICES = ("migrate", "api", *(f"worker-{q.value}" for q in QueueName))


@pytest.fixture(scope="module")
def compose_doc() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(doc, dict)
    return doc


def schema_errors(schema: dict[str, Any], doc: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(doc)
    ]


def rendered(compose_bin: str, project: Path, *, profiles: tuple[str, ...] = ()) -> dict[str, Any]:
    result = run_compose(compose_bin, project, "config", "--format", "json", profiles=profiles)
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    assert isinstance(model, dict)
    return model


# --- the specification ----------------------------------------------------------------------


def test_schema_is_the_compose_specification(compose_schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(compose_schema)
    assert compose_schema["$id"] == "compose_spec.json"
    assert {"services", "volumes", "networks", "secrets"} <= set(compose_schema["properties"])


def test_compose_file_matches_the_specification(
    compose_schema: dict[str, Any], compose_doc: dict[str, Any]
) -> None:
    assert schema_errors(compose_schema, compose_doc) == []


def test_compose_file_matches_the_published_specification(compose_doc: dict[str, Any]) -> None:
    """The compose-spec schema as published (SchemaStore, vendored by check-jsonschema), a
    second copy beside the one Docker Compose embeds."""
    schema = vendored_schema("compose-spec")
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "compose_spec.json"
    assert schema_errors(schema, compose_doc) == []


def test_check_jsonschema_accepts_the_file() -> None:
    """What CI runs by hand: check-jsonschema --builtin-schema vendor.compose-spec."""
    command = [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run(
        [*command, str(COMPOSE_FILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d["services"]["api"].update(helthcheck={}), "helthcheck", id="typo-key"
        ),
        pytest.param(
            lambda d: d["services"]["api"]["depends_on"]["migrate"].update(
                condition="service_finished"
            ),
            "service_finished",
            id="bad-condition",
        ),
        pytest.param(
            lambda d: d["services"]["redis"].update(ports="6379:6379"), "ports", id="ports-type"
        ),
        pytest.param(lambda d: d.update(service={}), "service", id="top-level-typo"),
    ],
)
def test_the_schema_rejects_a_broken_compose_file(
    compose_schema: dict[str, Any],
    compose_doc: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    broken = json.loads(json.dumps(compose_doc))
    mutate(broken)
    errors = schema_errors(compose_schema, broken)
    assert errors
    assert any(expected in error for error in errors), errors


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_docker_compose_accepts_the_file(
    compose_bin: str, compose_project: Callable[..., Path], profile: str
) -> None:
    project = compose_project(**ENV)
    result = run_compose(compose_bin, project, "config", "--quiet", profiles=(profile,))
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_run_without_the_database_password(
    compose_bin: str, compose_project: Callable[..., Path]
) -> None:
    project = compose_project()
    result = run_compose(compose_bin, project, "config", "--quiet")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_docker_compose_rejects_a_dependency_on_a_missing_service(
    compose_bin: str, compose_project: Callable[..., Path]
) -> None:
    text = COMPOSE_FILE.read_text().replace("migrate:\n      condition", "migrat:\n      condition")
    project = compose_project(text, **ENV)
    result = run_compose(compose_bin, project, "config", "--quiet")
    assert result.returncode != 0
    assert "migrat" in result.stderr


# --- what the bot needs ---------------------------------------------------------------------


def project_from_example(tmp: Path, edits: dict[str, str]) -> Path:
    (tmp / "docker-compose.yml").write_text(COMPOSE_FILE.read_text())
    (tmp / ".env").write_text(env_from_example(edits))
    return tmp


@pytest.fixture(scope="module")
def cpu_model(compose_bin: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The model compose builds from the documented steps: env.example plus a password.

    The profile comes from COMPOSE_PROFILES in .env, as it does for the user.
    """
    project = project_from_example(tmp_path_factory.mktemp("compose-cpu"), {})
    return rendered(compose_bin, project)


@pytest.fixture(scope="module")
def gpu_model(compose_bin: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = project_from_example(tmp_path_factory.mktemp("compose-gpu"), GPU_EDITS)
    return rendered(compose_bin, project)


def test_services_per_profile(cpu_model: dict[str, Any], gpu_model: dict[str, Any]) -> None:
    common = {*ASSIST_SERVICES, "sandbox", "redis", "postgres", "qdrant"}
    assert set(cpu_model["services"]) == common | {"vllm-cpu"}
    assert set(gpu_model["services"]) == common | {"vllm"}


def test_the_sandbox_service_holds_no_credentials(cpu_model: dict[str, Any]) -> None:
    from bot.sandbox.role import credentials_in

    service = cpu_model["services"]["sandbox"]
    assert service["command"] == ["worker", "--role", "sandbox"]
    assert "env_file" not in service
    assert credentials_in(service.get("environment", {})) == []
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]


def test_one_worker_service_per_queue(cpu_model: dict[str, Any]) -> None:
    for queue in QueueName:
        service = cpu_model["services"][f"worker-{queue.value}"]
        assert service["command"] == ["worker", "-q", queue.value]


@pytest.mark.parametrize("name", [s for s in ASSIST_SERVICES if s != "migrate"])
def test_api_and_workers_start_after_the_migration(cpu_model: dict[str, Any], name: str) -> None:
    depends = cpu_model["services"][name]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"


def test_migrate_runs_db_upgrade_once(cpu_model: dict[str, Any]) -> None:
    migrate = cpu_model["services"]["migrate"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert not migrate["restart"].startswith(("always", "unless-stopped"))


def test_one_image_for_api_workers_and_cli(cpu_model: dict[str, Any]) -> None:
    images = {cpu_model["services"][name]["image"] for name in ASSIST_SERVICES}
    builds = {
        (
            cpu_model["services"][name]["build"]["dockerfile"],
            cpu_model["services"][name]["build"]["target"],
        )
        for name in ASSIST_SERVICES
    }
    assert len(images) == 1
    assert builds == {("deploy/Dockerfile", "runtime")}


def test_health_checks(cpu_model: dict[str, Any], gpu_model: dict[str, Any]) -> None:
    services = {**cpu_model["services"], **gpu_model["services"]}
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert "/health" in " ".join(services["vllm"]["healthcheck"]["test"])
    assert "/health" in " ".join(services["vllm-cpu"]["healthcheck"]["test"])
    for name in ("redis", "postgres", "qdrant"):
        assert services[name]["healthcheck"]["test"], name
    # Workers and the migration serve no HTTP: the image's HEALTHCHECK must not mark them
    # unhealthy.
    for name in ("migrate", *(f"worker-{q.value}" for q in QueueName)):
        assert services[name]["healthcheck"]["disable"] is True, name


def test_qdrant_healthcheck_is_valid_bash(cpu_model: dict[str, Any]) -> None:
    test = cpu_model["services"]["qdrant"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]
    result = subprocess.run(["bash", "-n", "-c", test[3]], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr


def test_services_reach_each_other_by_name(cpu_model: dict[str, Any]) -> None:
    for name in ASSIST_SERVICES:
        env = cpu_model["services"][name]["environment"]
        assert env["ASSIST_QDRANT_LOCATION"] == "http://qdrant:6333"
        assert env["ASSIST_REDIS_URL"].startswith("redis://redis:6379/")
        assert env["ASSIST_DATABASE_URL"].startswith("postgresql+psycopg://assist:")
        assert env["ASSIST_DATABASE_URL"].endswith("@postgres:5432/assist")
        assert env["ASSIST_LLM_BASE_URLS"] == "http://vllm:8000/v1"


def test_both_model_servers_answer_as_vllm(
    cpu_model: dict[str, Any], gpu_model: dict[str, Any]
) -> None:
    assert "vllm" in cpu_model["services"]["vllm-cpu"]["networks"]["default"]["aliases"]
    assert "vllm" in gpu_model["services"]
    assert cpu_model["services"]["vllm-cpu"]["profiles"] == ["cpu"]
    assert gpu_model["services"]["vllm"]["profiles"] == ["gpu"]


def test_gpu_vllm_reserves_gpus_and_uses_the_documented_flags(gpu_model: dict[str, Any]) -> None:
    vllm = gpu_model["services"]["vllm"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"capabilities": ["gpu"], "driver": "nvidia", "count": 1}]
    assert vllm["image"].startswith("vllm/vllm-openai:v")
    flags = {arg.split("=", 1)[0] for arg in vllm["command"]}
    assert flags == gpu_serve_flags() - {"--api-key"}
    assert "VLLM_API_KEY" in vllm["environment"]  # the --api-key of serve.sh


def flag(command: list[str], name: str) -> str:
    return next(arg.split("=", 1)[1] for arg in command if arg.startswith(f"{name}="))


def test_the_bot_asks_the_gpu_server_for_the_model_it_serves(gpu_model: dict[str, Any]) -> None:
    vllm = gpu_model["services"]["vllm"]["command"]
    for name in ASSIST_SERVICES:
        env = gpu_model["services"][name]["environment"]
        assert flag(vllm, "--served-model-name") == env["ASSIST_LLM_MODEL"] == "qwen2.5-coder-32b"
        assert flag(vllm, "--max-model-len") == env["ASSIST_LLM_CONTEXT_TOKENS"] == "32768"


def test_the_bot_asks_the_cpu_server_for_the_model_it_serves(cpu_model: dict[str, Any]) -> None:
    server = cpu_model["services"]["vllm-cpu"]
    for name in ASSIST_SERVICES:
        env = cpu_model["services"][name]["environment"]
        assert server["command"] == ["--name", env["ASSIST_LLM_MODEL"]]
        assert (
            server["environment"]["ASSIST_VLLM_MAX_MODEL_LEN"] == env["ASSIST_LLM_CONTEXT_TOKENS"]
        )


@pytest.mark.parametrize("missing", ["ASSIST_LLM_MODEL", "ASSIST_LLM_CONTEXT_TOKENS"])
def test_compose_refuses_to_guess_the_model(
    compose_bin: str, compose_project: Callable[..., Path], missing: str
) -> None:
    env = {key: value for key, value in ENV.items() if key != missing}
    result = run_compose(compose_bin, compose_project(**env), "config", "--quiet")
    assert result.returncode != 0
    assert missing in result.stderr


def test_named_volumes_hold_the_state(gpu_model: dict[str, Any]) -> None:
    assert set(gpu_model["volumes"]) == {"redis", "postgres", "qdrant", "cache", "models"}
    mounts = {
        name: {(m["type"], m["source"], m["target"]) for m in service.get("volumes", [])}
        for name, service in gpu_model["services"].items()
    }
    assert mounts["postgres"] == {("volume", "postgres", "/var/lib/postgresql/data")}
    assert mounts["redis"] == {("volume", "redis", "/data")}
    assert mounts["qdrant"] == {("volume", "qdrant", "/qdrant/storage")}
    assert mounts["vllm"] == {("volume", "models", "/models")}
    for queue in QueueName:
        assert mounts[f"worker-{queue.value}"] == {("volume", "cache", "/var/cache/assist")}
    for volume in gpu_model["volumes"].values():
        assert volume.get("external") is not True


def test_secrets_come_from_the_env_file(compose_doc: dict[str, Any]) -> None:
    for name in ASSIST_SERVICES:
        assert compose_doc["services"][name]["env_file"] == [{"path": ".env", "required": True}]
    assert compose_doc["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    text = COMPOSE_FILE.read_text()
    assert "POSTGRES_PASSWORD: assist" not in text


def test_only_the_api_publishes_a_port(cpu_model: dict[str, Any]) -> None:
    published = {name for name, s in cpu_model["services"].items() if s.get("ports")}
    assert published == {"api"}
    (port,) = cpu_model["services"]["api"]["ports"]
    assert port["target"] == 8080
    assert port["host_ip"] == "127.0.0.1"


def test_assist_containers_are_locked_down(cpu_model: dict[str, Any]) -> None:
    for name in ASSIST_SERVICES:
        service = cpu_model["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_a_multi_line_private_key_in_env_reaches_the_containers(
    compose_bin: str, compose_project: Callable[..., Path]
) -> None:
    """docs/deployment.md: the GitHub App's PEM goes into .env in double quotes."""
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\nOgIB\n-----END RSA PRIVATE KEY-----"
    project = compose_project(**ENV, ASSIST_GITHUB_PRIVATE_KEY=f'"{pem}"')
    model = rendered(compose_bin, project)
    for name in ASSIST_SERVICES:
        assert model["services"][name]["environment"]["ASSIST_GITHUB_PRIVATE_KEY"] == pem


def test_console_service_in_its_profile(
    compose_bin: str, tmp_path_factory: pytest.TempPathFactory, cpu_model: dict[str, Any]
) -> None:
    assert "console" not in cpu_model["services"]  # off unless asked for
    project = project_from_example(
        tmp_path_factory.mktemp("compose-console"),
        {"COMPOSE_PROFILES=cpu": "COMPOSE_PROFILES=cpu,console"},
    )
    model = rendered(compose_bin, project)
    console = model["services"]["console"]
    assert console["command"][:1] == ["console"]
    assert console["image"] == model["services"]["api"]["image"]
    (port,) = console["ports"]
    assert (port["target"], port["host_ip"]) == (8090, "127.0.0.1")
    assert console["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "/healthz" in " ".join(console["healthcheck"]["test"])
    assert console["read_only"] is True
    assert console["cap_drop"] == ["ALL"]
