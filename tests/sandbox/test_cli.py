"""``gateway sandbox`` maps its flags onto ``SandboxOptions``."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.applications import Starlette

from gateway.sandbox.faults import Faults

# gateway.cli re-exports the command under the module's own name, so fetch the module itself.
command = importlib.import_module("gateway.cli.sandbox")


def test_flags_become_sandbox_options(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Starlette] = []

    def run(app: Starlette, **_: Any) -> None:
        served.append(app)

    monkeypatch.setattr(command.uvicorn, "run", run)
    monkeypatch.setattr(command, "configure", lambda: None)

    result = CliRunner().invoke(
        command.sandbox,
        [
            "--refresh-token-ttl=600",
            "--refresh-reuse-grace=2.5",
            "--admin-api-key=k",
            "--webhook-url=http://127.0.0.1:9/hook",
            "--webhook-secret=s",
            "--latency-ms=20",
            "--error-rate=0.25",
            "--fault-seed=7",
            "--rate-limited",
            "--retry-after=3",
            "--token-endpoint-down",
            "--invalid-client",
        ],
    )

    assert result.exit_code == 0, result.output
    options = served[0].state.sandbox.options
    assert options.refresh_token_ttl == 600
    assert options.refresh_reuse_grace == 2.5
    assert options.admin_api_key == "k"
    assert options.webhook_url == "http://127.0.0.1:9/hook"
    assert options.webhook_secret == "s"
    assert options.faults == Faults(
        latency_ms=20,
        error_rate=0.25,
        rate_limited=True,
        retry_after=3,
        token_endpoint_down=True,
        invalid_client=True,
        seed=7,
    )
