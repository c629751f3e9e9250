"""The deployment examples: valid Kubernetes objects, known settings, and Contio's rate budget set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

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
