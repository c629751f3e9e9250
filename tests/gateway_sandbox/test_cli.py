"""``gateway sandbox`` maps its flags onto ``SandboxOptions``."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.applications import Starlette

from gateway_sandbox.faults import Faults
from gateway_sandbox.seed import DEFAULT
from gateway_sandbox.waf import RateLimits

# gateway.cli re-exports the command under the module's own name, so fetch the module itself.
command = importlib.import_module("gateway.cli.sandbox")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Starlette]:
    """The apps ``gateway sandbox`` would have served."""
    apps: list[Starlette] = []

    def run(app: Starlette, **_: Any) -> None:
        apps.append(app)

    monkeypatch.setattr(command.uvicorn, "run", run)
    monkeypatch.setattr(command, "configure", lambda: None)
    return apps


def test_flags_become_sandbox_options(served: list[Starlette]) -> None:
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


def test_the_provisioning_rate_limit_and_lost_response_flags(
    served: list[Starlette], tmp_path: Path
) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text('{"users": [{"email": "solo@example.com"}]}')

    result = CliRunner().invoke(
        command.sandbox,
        [
            "--otp-ttl=5",
            "--session-ttl=60",
            "--otp-attempts=3",
            f"--seed={seed_file}",
            "--enforce-rate-limits",
            "--rate-limit-user=10",
            "--rate-limit-admin=5",
            "--rate-limit-auth=2",
            "--lose-response=502",
            "--lose-next=2",
            "--lose-prefix=/auth/",
            "--webhook-retry-delays=0.1,0.2",
        ],
    )

    assert result.exit_code == 0, result.output
    store = served[0].state.sandbox
    options = store.options
    assert (options.otp_ttl, options.session_ttl, options.otp_max_attempts) == (5, 60, 3)
    assert [u.email for u in options.seed.users] == ["solo@example.com"]
    assert store.user_by_email("solo@example.com") is not None
    assert options.rate_limits == RateLimits(user_api=10, admin_api=5, auth=2)
    assert options.webhook_retry_delays == (0.1, 0.2)
    faults = options.faults
    assert faults.enforce_rate_limits is True
    assert (faults.lose_response, faults.lose_next, faults.lose_prefix) == ("502", 2, "/auth/")


def test_without_flags_the_defaults_apply(served: list[Starlette]) -> None:
    result = CliRunner().invoke(command.sandbox, [])

    assert result.exit_code == 0, result.output
    options = served[0].state.sandbox.options
    assert (options.otp_ttl, options.session_ttl, options.otp_max_attempts) == (180, 1800, 5)
    assert options.seed == DEFAULT
    assert options.faults == Faults()


def test_a_broken_seed_file_stops_start_up(served: list[Starlette], tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text('{"users": [{"email": 1}]}')

    result = CliRunner().invoke(command.sandbox, [f"--seed={seed_file}"])

    assert result.exit_code == 2
    assert "users[0].email" in result.output
    assert served == []
