"""The development stack's files in the data dir: ``gateway dev`` writes them and ``gateway --dev``
reads them, so the CLI works against the running stack with its settings.

- ``dev-secrets.json``: the development encryption key (made once, never for production) and the
  dev service key;
- ``dev-stack.json``: where the stack's gateway and sandbox listen.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import SecretStr

from gateway.kit.crypto import generate_key_entry
from gateway.settings import ENV_PREFIX, Settings, SettingsError

log = logging.getLogger(__name__)

SECRETS_FILE = "dev-secrets.json"
STACK_FILE = "dev-stack.json"
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"


@dataclass(frozen=True)
class DevStack:
    """Where a running ``gateway dev`` listens."""

    gateway_url: str
    sandbox_url: str

    @classmethod
    def on_ports(cls, port: int, sandbox_port: int) -> DevStack:
        return cls(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}")


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """The dev encryption key (made once, kept in the data dir, never for production)."""
    path = data_dir / SECRETS_FILE
    if path.exists():
        return _read(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets = {"encryption_keys": generate_key_entry("dev1")}
    save_secrets(data_dir, secrets)
    log.warning("generated a DEVELOPMENT encryption key in %s (never use it in production)", path)
    return secrets


def save_secrets(data_dir: Path, secrets: dict[str, str]) -> None:
    path = data_dir / SECRETS_FILE
    path.write_text(json.dumps(secrets, indent=2))
    os.chmod(path, 0o600)


def save_stack(data_dir: Path, stack: DevStack) -> None:
    (data_dir / STACK_FILE).write_text(json.dumps(asdict(stack), indent=2))


def dev_settings(base: Settings, secrets: dict[str, str], stack: DevStack) -> Settings:
    """``base`` with the dev stack's encryption key, public URL and Contio pointed at its sandbox."""
    return base.model_copy(
        update={
            "encryption_keys": SecretStr(secrets["encryption_keys"]),
            "encryption_active_key": None,
            "public_url": stack.gateway_url,
            "contio_auth_url": stack.sandbox_url,
            "contio_api_url": stack.sandbox_url,
            "contio_client_id": SANDBOX_CLIENT_ID,
            "contio_client_secret": SecretStr(SANDBOX_CLIENT_SECRET),
        }
    )


def running_stack_settings(base: Settings) -> Settings:
    """The settings of the dev stack whose files are in ``base.data_dir`` (``gateway --dev``);
    SettingsError when ``gateway dev`` has never run there."""
    secrets_path = base.data_dir / SECRETS_FILE
    if not secrets_path.exists():
        raise SettingsError(
            f"--dev: no development stack in {base.data_dir.resolve()} (no {SECRETS_FILE}); "
            f"start one with `make run` (or `gateway dev`) in this directory, or set "
            f"{ENV_PREFIX}DATA_DIR to its data dir"
        )
    secrets = _read(secrets_path)
    if "encryption_keys" not in secrets:
        raise SettingsError(f"--dev: {secrets_path} holds no encryption_keys")
    stack_path = base.data_dir / STACK_FILE
    stored = _read(stack_path) if stack_path.exists() else {}
    default = DevStack.on_ports(8000, 8001)
    stack = DevStack(
        gateway_url=stored.get("gateway_url", default.gateway_url),
        sandbox_url=stored.get("sandbox_url", default.sandbox_url),
    )
    return dev_settings(base, secrets, stack)


def _read(path: Path) -> dict[str, str]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from exc
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise SettingsError(f"{path} is not a JSON object of strings")
    return {str(key): value for key, value in found.items()}
