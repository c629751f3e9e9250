"""The deployment examples: valid Kubernetes objects, known settings, and Contio's rate budget set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from gateway.public_port import is_public
from gateway.settings import ENV_PREFIX, Settings
from gateway.tokens.budget import Rate

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
K8S = DEPLOY / "k8s"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return found


def manifests() -> list[Path]:
    return [K8S / name for name in kustomization()["resources"]]


def test_the_kustomization_lists_every_manifest() -> None:
    listed = {path.name for path in manifests()}
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("path", manifests(), ids=lambda p: p.name)
def test_each_manifest_is_a_valid_kubernetes_object(path: Path) -> None:
    for doc in documents(path):
        kubernetes_validate.validate(doc, "1.30", strict=True)


def gateway_environment() -> dict[str, str]:
    """Every GATEWAY_* variable the examples set: the ConfigMap and the compose file."""
    env: dict[str, str] = {}
    for doc in documents(K8S / "config.yaml"):
        env.update(doc["data"])
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    env.update(compose["x-gateway"]["environment"])
    return env


def local_environment() -> dict[str, str]:
    compose = yaml.safe_load((DEPLOY / "compose.local.yaml").read_text())
    env: dict[str, str] = compose["x-gateway"]["environment"]
    return env


def test_every_variable_the_examples_set_is_a_setting() -> None:
    fields = set(Settings.model_fields)
    for name in [*gateway_environment(), *local_environment()]:
        assert name.startswith(ENV_PREFIX), name
        setting = name.removeprefix(ENV_PREFIX).removesuffix("_FILE").lower()
        assert setting in fields or setting.endswith("_token_rate"), f"{name} is not a setting"


def test_the_examples_hold_contios_rate_budget() -> None:
    rate = gateway_environment()["GATEWAY_CONTIO_TOKEN_RATE"]
    assert Rate.parse(rate, name="GATEWAY_CONTIO_TOKEN_RATE") == Rate(100, 300)
    for doc in documents(K8S / "config.yaml"):
        assert doc["data"]["GATEWAY_CONTIO_TOKEN_RATE"] == rate


def test_secrets_come_from_files_not_from_the_manifests() -> None:
    env = gateway_environment()
    for secret in (
        "DATABASE_URL",
        "ENCRYPTION_KEYS",
        "CONTIO_CLIENT_SECRET",
        "EVENT_SIGNING_SECRETS",
    ):
        assert f"{ENV_PREFIX}{secret}" not in env
        assert env[f"{ENV_PREFIX}{secret}_FILE"].startswith("/run/secrets/")


def test_the_local_stack_runs_the_sandbox_and_makes_you_bring_your_own_key() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.local.yaml").read_text())
    assert {"postgres", "migrate", "gateway", "sandbox"} <= set(compose["services"])
    env = local_environment()
    assert env["GATEWAY_CONTIO_AUTH_URL"].startswith("http://sandbox.localhost")
    assert env["GATEWAY_ENCRYPTION_KEYS"].startswith("${GATEWAY_ENCRYPTION_KEYS:?")
    sandbox = compose["services"]["sandbox"]
    assert "sandbox.localhost" in sandbox["networks"]["default"]["aliases"]
    assert f"{env['GATEWAY_PUBLIC_URL']}/oauth/callback" in sandbox["command"]


# The listeners: the public port behind the Ingress, everything else inside the cluster.


def one(path: Path, kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        doc
        for doc in documents(path)
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{kind} {name or ''} in {path.name}"
    return found[0]


def option(args: list[str], name: str) -> str:
    assert args.count(name) == 1, f"{name} in {args}"
    return args[args.index(name) + 1]


def api_container() -> dict[str, Any]:
    deployment = one(K8S / "deployment.yaml", "Deployment")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def container_ports() -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in api_container()["ports"]}


def test_the_api_pods_serve_the_public_port_beside_the_internal_one() -> None:
    args = api_container()["args"]
    assert args[0] == "serve"
    internal, public = int(option(args, "--port")), int(option(args, "--public-port"))
    assert internal != public
    assert container_ports() == {"http": internal, "public": public}
    template = one(K8S / "deployment.yaml", "Deployment")["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/port"] == str(internal)


def test_the_service_names_the_public_port() -> None:
    ports = {port["name"]: port for port in one(K8S / "service.yaml", "Service")["spec"]["ports"]}
    assert ports["public"]["targetPort"] == "public"
    assert ports["http"]["targetPort"] == "http"


INGRESS_PATHS = {
    ("/connect", "Exact"),
    ("/oauth/callback", "Exact"),
    ("/provision", "Prefix"),
    ("/webhooks/contio", "Exact"),
}


def test_the_ingress_serves_only_the_public_routes_over_tls_from_the_public_port() -> None:
    ingress = one(K8S / "ingress.yaml", "Ingress")
    spec = ingress["spec"]
    assert "defaultBackend" not in spec
    hosts = {rule["host"] for rule in spec["rules"]}
    assert hosts == {urlsplit(gateway_environment()["GATEWAY_PUBLIC_URL"]).hostname}
    assert [tls["secretName"] for tls in spec["tls"]] == ["gateway-tls"]
    assert {host for tls in spec["tls"] for host in tls["hosts"]} == hosts
    paths = [path for rule in spec["rules"] for path in rule["http"]["paths"]]
    assert {(path["path"], path["pathType"]) for path in paths} == INGRESS_PATHS
    for path in paths:
        assert path["backend"]["service"] == {"name": "gateway", "port": {"name": "public"}}
        sample = path["path"] + ("/some-id" if path["pathType"] == "Prefix" else "")
        assert any(is_public(sample, method) for method in ("GET", "POST")), sample


def policies() -> list[dict[str, Any]]:
    return [doc for doc in documents(K8S / "networkpolicy.yaml") if doc["kind"] == "NetworkPolicy"]


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted: dict[str, str] = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())


def admitted(labels: dict[str, str]) -> set[tuple[str, int]]:
    """(who, port) pairs the policies admit to pods with ``labels``; who names the peer."""
    found: set[tuple[str, int]] = set()
    for policy in policies():
        if not selects(policy, labels) or "Ingress" not in policy["spec"]["policyTypes"]:
            continue
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from") and rule.get("ports"), f"{policy['metadata']['name']}: open"
            for peer in rule["from"]:
                namespace = peer["namespaceSelector"]["matchLabels"]
                pods = peer.get("podSelector", {}).get("matchLabels", {})
                who = ",".join(f"{k}={v}" for k, v in sorted({**namespace, **pods}.items()))
                found |= {(who, port["port"]) for port in rule["ports"]}
    return found


INGRESS_CONTROLLER = "kubernetes.io/metadata.name=ingress-nginx"
CLIENTS = "gateway.example.com/client=true"
PROMETHEUS = "app.kubernetes.io/name=prometheus,kubernetes.io/metadata.name=monitoring"
API = {"app.kubernetes.io/name": "gateway", "app.kubernetes.io/component": "api"}
WORKER = {"app.kubernetes.io/name": "gateway", "app.kubernetes.io/component": "worker"}


def test_every_gateway_pod_is_closed_by_default() -> None:
    closed = [
        policy
        for policy in policies()
        if selects(policy, WORKER)
        and selects(policy, API)
        and "Ingress" in policy["spec"]["policyTypes"]
    ]
    assert closed, "no policy selects every gateway pod for ingress"
    assert admitted(WORKER) == set()


def test_the_ingress_controller_reaches_the_public_port_only_and_callers_the_internal_one() -> None:
    ports = container_ports()
    assert admitted(API) == {
        (INGRESS_CONTROLLER, ports["public"]),
        (CLIENTS, ports["http"]),
        (PROMETHEUS, ports["http"]),  # /metrics is served on the internal port
    }


def compose(name: str) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return found


def published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_compose_publishes_only_the_tls_terminator_in_front_of_the_public_port() -> None:
    services = compose("compose.yaml")["services"]
    args = services["gateway"]["command"]
    internal, public = option(args, "--port"), option(args, "--public-port")
    assert published(services["gateway"]) == []
    assert set(services["gateway"]["expose"]) == {internal, public}
    assert {name for name, service in services.items() if published(service)} == {"tls"}
    terminator = services["tls"]["command"]
    host = urlsplit(gateway_environment()["GATEWAY_PUBLIC_URL"]).hostname
    assert option(terminator, "--from") == host
    assert option(terminator, "--to") == f"gateway:{public}"
    assert set(published(services["tls"])) == {"80:80", "443:443"}


def test_the_local_stack_publishes_the_public_port_and_keeps_the_internal_one_on_loopback() -> None:
    services = compose("compose.local.yaml")["services"]
    args = services["gateway"]["command"]
    internal, public = option(args, "--port"), option(args, "--public-port")
    assert set(published(services["gateway"])) == {
        f"{public}:{public}",
        f"127.0.0.1:{internal}:{internal}",
    }
    assert urlsplit(local_environment()["GATEWAY_PUBLIC_URL"]).port == int(public)


# Upgrades: re-applying the manifests with a new image migrates, with nothing immutable in the way.


def test_no_manifest_is_a_job_whose_pod_template_a_new_image_would_change() -> None:
    kinds = {doc["kind"] for path in manifests() for doc in documents(path)}
    assert "Job" not in kinds and "CronJob" not in kinds


@pytest.mark.parametrize("name", ["deployment.yaml", "worker.yaml"])
def test_every_gateway_pod_migrates_before_it_starts(name: str) -> None:
    spec = one(K8S / name, "Deployment")["spec"]["template"]["spec"]
    [init] = spec["initContainers"]
    [main] = spec["containers"]
    assert init["image"] == main["image"] == "gateway"  # the kustomization sets both tags
    assert init["args"] == ["migrate"]
    assert init["envFrom"] == main["envFrom"]
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {mount["mountPath"] for mount in init["volumeMounts"]}
    assert "/run/secrets/gateway" in mounts


# The image: the gateway without the Contio sandbox by default; the local stack builds the sandbox in.


def dockerfile_stages() -> list[tuple[str, str, list[str]]]:
    """The Dockerfile's stages in order: (name or "", base, instructions after FROM)."""
    text = (DEPLOY.parent / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if words[0] == "FROM":
            name = words[3] if len(words) > 3 and words[2].upper() == "AS" else ""
            stages.append((name, words[1], []))
        elif stages:
            stages[-1][2].append(line)
    return stages


def test_the_default_image_is_the_production_stage_without_the_sandbox() -> None:
    stages = {name: (base, lines) for name, base, lines in dockerfile_stages()}
    default_name, default_base, default_lines = dockerfile_stages()[-1]
    assert (default_name, default_base, default_lines) == ("", "production", [])
    _, production = stages["production"]
    copies = [line for line in production if line.startswith("COPY")]
    assert any(line.endswith("gateway ./gateway") for line in copies)
    assert not any("gateway_sandbox" in line for line in production)
    assert 'ENTRYPOINT ["gateway"]' in production
    _, build = stages["build"]
    assert any("/venv/bin/gateway" in line for line in build)


def test_only_the_local_stack_runs_the_image_that_carries_the_sandbox() -> None:
    base, lines = {name: (base, lines) for name, base, lines in dockerfile_stages()}["sandbox"]
    assert base == "production"
    assert "COPY --chown=root:root gateway_sandbox ./gateway_sandbox" in lines
    local = compose("compose.local.yaml")["services"]
    assert local["sandbox"]["build"]["target"] == "sandbox"
    assert local["sandbox"]["image"] != local["gateway"]["image"]
    for name, service in compose("compose.yaml")["services"].items():
        assert "sandbox" not in json.dumps(service.get("build", "")), name
