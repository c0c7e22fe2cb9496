"""deploy/k8s against the Kubernetes JSON schemas (strict), and against what the bot needs."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import ValidationError

from bot.intake.routing import QueueName
from bot.settings import Settings
from tests.deploy.conftest import (
    K8S_DIR,
    ROOT,
    by_kind,
    gpu_serve_flags,
    read_env_file,
    render_kustomization,
)

# The oldest Kubernetes minor these manifests support, and the newest the schemas know.
VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
NAMESPACE = "forge-assist"
SECRET_FIELDS = {
    f"ASSIST_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation)
}
SECRET_FIELDS |= {"ASSIST_DATABASE_URL", "ASSIST_REDIS_URL"}  # they carry passwords


def validate(doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")]


# --- schemas --------------------------------------------------------------------------------


def test_every_resource_is_known(k8s_docs: list[dict[str, Any]]) -> None:
    kinds = sorted({d["kind"] for d in k8s_docs})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Job",
        "Namespace",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    names = [(d["kind"], d["metadata"]["name"]) for d in k8s_docs]
    assert len(names) == len(set(names)), "duplicate resources"


@pytest.mark.parametrize("version", VERSIONS)
def test_manifests_match_the_kubernetes_schemas(
    k8s_docs: list[dict[str, Any]], version: str
) -> None:
    failures = []
    for doc in k8s_docs:
        try:
            validate(doc, version)
        except ValidationError as error:
            path = ".".join(map(str, error.path))
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {error.message}")
    assert failures == []


@pytest.mark.parametrize(
    ("kind", "mutate", "expected"),
    [
        pytest.param(
            "Deployment",
            lambda d: pod_spec(d)["containers"][0]["readinessProbe"].update(
                httpGett={"path": "/readyz"}
            ),
            "httpGett",
            id="unknown-field",
        ),
        pytest.param(
            "Deployment",
            lambda d: pod_spec(d)["containers"][0]["ports"][0].update(containerPort="http"),
            "is not of type 'integer'",
            id="wrong-type",
        ),
        pytest.param(
            "Deployment",
            lambda d: pod_spec(d).update(containers=[{"image": "x"}]),
            "'name' is a required property",
            id="missing-required",
        ),
        pytest.param(
            "HorizontalPodAutoscaler",
            lambda d: d["spec"]["metrics"][0]["external"]["target"].update(averageValue=[4]),
            "averageValue",
            id="hpa-wrong-type",
        ),
        pytest.param(
            "NetworkPolicy",
            lambda d: d["spec"].update(policyType=["Ingress"]),
            "policyType",
            id="netpol-typo",
        ),
    ],
)
def test_the_validator_rejects_a_broken_manifest(
    k8s_docs: list[dict[str, Any]],
    kind: str,
    mutate: Callable[[dict[str, Any]], Any],
    expected: str,
) -> None:
    original = next(d for d in k8s_docs if d["kind"] == kind)
    broken = copy.deepcopy(original)
    mutate(broken)
    with pytest.raises(ValidationError) as raised:
        validate(broken, VERSIONS[-1])
    message = f"{'.'.join(map(str, raised.value.path))}: {raised.value.message}"
    assert expected in message


def test_kubectl_renders_the_same_resources(k8s_docs: list[dict[str, Any]]) -> None:
    """Where kubectl is installed, its kustomize agrees with the renderer used above."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed; the Python renderer covered the kustomization")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]

    def key(doc: dict[str, Any], *, hashed: bool = False) -> tuple[str, str, str]:
        name = doc["metadata"]["name"]
        if hashed and doc["kind"] == "ConfigMap":
            name = name.rsplit("-", 1)[0]  # kustomize's content hash suffix
        return doc["kind"], name, doc["metadata"].get("namespace", "")

    assert sorted(key(d, hashed=True) for d in rendered) == sorted(map(key, k8s_docs))
    for doc in rendered:
        validate(doc, VERSIONS[-1])
        if doc["kind"] == "Deployment":
            assert pod_spec(doc)["containers"][0]["image"] != "forge-assist"


# --- the bot's needs ------------------------------------------------------------------------


def test_namespace_enforces_restricted_pod_security(k8s_docs: list[dict[str, Any]]) -> None:
    namespace = by_kind(k8s_docs, "Namespace")[NAMESPACE]
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in k8s_docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE


def test_one_worker_deployment_per_queue(k8s_docs: list[dict[str, Any]]) -> None:
    deployments = by_kind(k8s_docs, "Deployment")
    workers = {n for n in deployments if n.startswith("assist-worker-")}
    assert workers == {f"assist-worker-{q.value}" for q in QueueName}
    for queue in QueueName:
        deployment = deployments[f"assist-worker-{queue.value}"]
        assert pod_spec(deployment)["containers"][0]["args"] == ["worker", "--queue", queue.value]
        # The HPA owns the replica count; a replicas field would reset it on every apply.
        assert "replicas" not in deployment["spec"]


@pytest.mark.parametrize("queue", [q.value for q in QueueName])
def test_workers_scale_on_their_queue_depth(k8s_docs: list[dict[str, Any]], queue: str) -> None:
    hpa = by_kind(k8s_docs, "HorizontalPodAutoscaler")[f"assist-worker-{queue}"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", f"assist-worker-{queue}")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["name"] == "assist_queue_depth"
    assert metric["external"]["metric"]["selector"]["matchLabels"] == {"queue": queue}
    assert metric["external"]["target"]["type"] == "AverageValue"
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_the_adapter_serves_the_metric_the_hpas_ask_for() -> None:
    values = yaml.safe_load((K8S_DIR / "prometheus-adapter-values.yaml").read_text())
    (rule,) = values["rules"]["external"]
    assert rule["name"]["as"] == "assist_queue_depth"
    assert rule["seriesQuery"].startswith("assist_queue_depth{")
    assert "max(" in rule["metricsQuery"]  # every api replica reports the same depth


def test_every_workload_is_locked_down(k8s_docs: list[dict[str, Any]]) -> None:
    for doc in workloads(k8s_docs):
        spec = pod_spec(doc)
        name = doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            if container["image"] == "forge-assist":
                assert context["readOnlyRootFilesystem"] is True, name
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[part]), f"{name} {part}"


def test_the_bot_image_is_one_image_with_its_own_commands(k8s_docs: list[dict[str, Any]]) -> None:
    commands = {}
    for doc in workloads(k8s_docs):
        for container in pod_spec(doc)["containers"]:
            if container["image"] == "forge-assist":
                assert "command" not in container  # ENTRYPOINT ["assist"] stays
                commands[doc["metadata"]["name"]] = container["args"][0]
    assert commands == {
        "assist-migrate": "db",
        "assist-api": "serve",
        "assist-console": "console",
        **{f"assist-worker-{q.value}": "worker" for q in QueueName},
        "assist-sandbox": "worker",
    }


def test_every_deployment_has_a_matching_disruption_budget(k8s_docs: list[dict[str, Any]]) -> None:
    budgets = by_kind(k8s_docs, "PodDisruptionBudget").values()
    for name, deployment in by_kind(k8s_docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(matching) == 1, name
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name


def test_services_and_ingress_reach_pods(k8s_docs: list[dict[str, Any]]) -> None:
    deployments = by_kind(k8s_docs, "Deployment").values()
    services = by_kind(k8s_docs, "Service")
    for name, service in services.items():
        selector = service["spec"]["selector"]
        targets = [
            d
            for d in deployments
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, name
        ports = {p["name"] for c in pod_spec(targets[0])["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, name
    ingress = by_kind(k8s_docs, "Ingress")["assist-api"]
    (rule,) = ingress["spec"]["rules"]
    paths = rule["http"]["paths"]
    assert [p["path"] for p in paths] == ["/webhooks/"]  # /metrics stays private
    backend = paths[0]["backend"]["service"]
    assert backend["name"] in services
    assert backend["port"]["name"] in {
        p["name"] for p in services[backend["name"]]["spec"]["ports"]
    }
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]


def test_api_probes(k8s_docs: list[dict[str, Any]]) -> None:
    container = pod_spec(by_kind(k8s_docs, "Deployment")["assist-api"])["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_migrations_run_as_a_job(k8s_docs: list[dict[str, Any]]) -> None:
    job = by_kind(k8s_docs, "Job")["assist-migrate"]
    container = pod_spec(job)["containers"][0]
    assert container["args"] == ["db", "upgrade"]
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")
    assert job["spec"]["backoffLimit"] >= 1


def test_config_is_known_settings_and_holds_no_secret(k8s_docs: list[dict[str, Any]]) -> None:
    config = by_kind(k8s_docs, "ConfigMap")["assist-config"]["data"]
    known = {f"ASSIST_{name.upper()}" for name in Settings.model_fields}
    assert set(config) <= known, set(config) - known
    assert not set(config) & SECRET_FIELDS
    Settings.model_validate({k.removeprefix("ASSIST_").lower(): v for k, v in config.items()})


def test_secrets_come_from_secrets_only(k8s_docs: list[dict[str, Any]]) -> None:
    assert not by_kind(k8s_docs, "Secret"), "no Secret with values in the manifests"
    configmaps = set(by_kind(k8s_docs, "ConfigMap"))
    for doc in workloads(k8s_docs):
        for container in pod_spec(doc)["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                else:
                    assert source["secretRef"]["name"] == "assist-secrets"
            for var in container.get("env", []):
                looks_secret = any(
                    word in var["name"] for word in ("KEY", "TOKEN", "SECRET", "PASSWORD")
                )
                if looks_secret or var["name"] in SECRET_FIELDS:
                    assert "valueFrom" in var, f"{doc['metadata']['name']}: {var['name']}"


def test_vllm_gpus_tensor_parallelism_and_probes(k8s_docs: list[dict[str, Any]]) -> None:
    deployment = by_kind(k8s_docs, "Deployment")["vllm"]
    spec = pod_spec(deployment)
    (container,) = spec["containers"]
    args = dict(arg.split("=", 1) if "=" in arg else (arg, "") for arg in container["args"])
    gpus = container["resources"]["limits"]["nvidia.com/gpu"]
    assert container["resources"]["requests"]["nvidia.com/gpu"] == gpus
    assert args["--tensor-parallel-size"] == gpus
    assert set(args) == gpu_serve_flags() - {"--api-key"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in spec["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == set(by_kind(k8s_docs, "PersistentVolumeClaim"))
    shm = next(v for v in spec["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    config = by_kind(k8s_docs, "ConfigMap")["assist-config"]["data"]
    assert args["--served-model-name"] == config["ASSIST_LLM_MODEL"]
    assert int(args["--max-model-len"]) >= int(config["ASSIST_LLM_CONTEXT_TOKENS"])
    service = by_kind(k8s_docs, "Service")["vllm"]
    assert config["ASSIST_LLM_BASE_URLS"] == (
        f"http://vllm.{NAMESPACE}.svc.cluster.local:{service['spec']['ports'][0]['port']}/v1"
    )


def test_network_policies_deny_by_default_and_allow_each_path(
    k8s_docs: list[dict[str, Any]],
) -> None:
    policies = by_kind(k8s_docs, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    def egress_ports(name: str) -> set[int]:
        return {
            p["port"] for rule in policies[name]["spec"].get("egress", []) for p in rule["ports"]
        }

    def ingress_ports(name: str) -> set[int]:
        return {
            p["port"] for rule in policies[name]["spec"].get("ingress", []) for p in rule["ports"]
        }

    assert egress_ports("allow-dns") == {53}
    assert ingress_ports("assist-api") == {8080}
    assert egress_ports("assist-api") == {6379, 5432}  # Redis, PostgreSQL; no forge, no model
    assert egress_ports("assist-worker") == {6379, 5432, 6333, 6334, 8000, 443}
    assert ingress_ports("assist-worker") == set()
    assert egress_ports("assist-migrate") == {5432}
    assert egress_ports("assist-sandbox") == {6379}  # the queue; nothing else
    assert ingress_ports("assist-sandbox") == set()
    assert ingress_ports("vllm") == {8000}
    assert ingress_ports("assist-console") == {8090}
    assert egress_ports("assist-console") == {6379, 5432, 6333, 8000, 443}
    # Every workload is selected by a policy of its own besides the default deny.
    for doc in workloads(k8s_docs):
        labels = doc["spec"]["template"]["metadata"]["labels"]
        own = [
            n
            for n, p in policies.items()
            if p["spec"]["podSelector"]
            and p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert own, doc["metadata"]["name"]


def test_config_env_file_is_what_the_generator_reads() -> None:
    values = read_env_file(K8S_DIR / "config.env")
    assert values["ASSIST_HOST"] == "0.0.0.0"
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert kustomization["configMapGenerator"][0]["envs"] == ["config.env"]


def test_renderer_rejects_a_missing_resource(tmp_path: Any) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [absent.yaml]\n"
    )
    with pytest.raises(AssertionError, match=r"absent\.yaml"):
        render_kustomization(tmp_path)


def test_data_service_files_parse() -> None:
    for path in sorted((ROOT / "deploy" / "k8s" / "data").glob("*.yaml")):
        assert yaml.safe_load(path.read_text()), path


def test_app_mode_lines_load_and_point_at_the_mounted_key(k8s_docs: list[dict[str, Any]]) -> None:
    """Uncommenting the GitHub App lines of config.env, as the guide says, gives valid settings
    whose key file is where the workers mount the Secret assist-github-app."""
    lines = (K8S_DIR / "config.env").read_text().splitlines()
    app_mode = dict(
        line.removeprefix("# ").split("=", 1) for line in lines if line.startswith("# ASSIST_")
    )
    assert {"ASSIST_GITHUB_APP_ID", "ASSIST_GITHUB_PRIVATE_KEY_PATH"} <= set(app_mode)
    values = {**read_env_file(K8S_DIR / "config.env"), **app_mode}
    settings = Settings.model_validate(
        {k.removeprefix("ASSIST_").lower(): v for k, v in values.items()}
    )
    assert settings.github_private_key_path is not None
    key_dir = str(settings.github_private_key_path.parent)
    for name, deployment in by_kind(k8s_docs, "Deployment").items():
        (container, *_) = pod_spec(deployment)["containers"]
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        if name.startswith("assist-worker-"):
            assert mounts.get(key_dir) == "github-app", name
            volume = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "github-app")
            assert volume["secret"]["secretName"] == "assist-github-app"
        else:  # the api verifies webhooks and never calls a forge: no key there
            assert key_dir not in mounts, name


def test_console_probes_and_ingress(k8s_docs: list[dict[str, Any]]) -> None:
    container = pod_spec(by_kind(k8s_docs, "Deployment")["assist-console"])["containers"][0]
    assert container["args"][:1] == ["console"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    ingress = by_kind(k8s_docs, "Ingress")["assist-console"]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == (
        "assist-console"
    )
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]


def test_the_sandbox_role_holds_no_credentials(k8s_docs: list[dict[str, Any]]) -> None:
    from bot.sandbox.role import credentials_in

    sandbox = by_kind(k8s_docs, "Deployment")["assist-sandbox"]
    spec = pod_spec(sandbox)
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["args"] == ["worker", "--role", "sandbox"]
    assert "envFrom" not in container  # not the whole assist-secrets
    names = {v["name"]: "set" for v in container["env"]}
    assert credentials_in(names) == []
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
