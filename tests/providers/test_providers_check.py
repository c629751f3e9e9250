"""``gateway providers check``: the providers file checked as start-up checks it, and with
``--online`` each issuer's discovery document fetched (from a real sandbox on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import cli
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.fixtures.servers import ServerThread, free_port, serving

EXPLICIT = """
[providers.acme]
authorize_url = "https://acme.example/oauth/authorize"
token_url = "https://acme.example/oauth/token"
api_base_url = "https://api.acme.example/v2"
client_id = "gw"
client_secret = "acme-secret"
scope_separator = ","
refresh = { rotates = false }
"""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServerThread]:
    with serving(create_sandbox_app(SandboxOptions())) as server:
        yield server


def check(tmp_path: Path, text: str, *args: str, **env: str) -> Result:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    environ = {
        "GATEWAY_PROVIDERS_FILE": str(path),
        "GATEWAY_CONTIO_CLIENT_ID": "",
        "GATEWAY_DEFAULT_PROVIDER": "acme",
        **env,
    }
    return CliRunner().invoke(cli, ["providers", "check", *args], env=environ)


def discovered(issuer: str) -> str:
    return f"""
[providers.acme]
issuer = "{issuer}"
api_base_url = "{issuer}/v1/partner/user"
client_id = "sandbox-client"
client_secret = "sandbox-secret"
scopes = ["openid", "profile"]
"""


def test_a_good_file_passes_and_each_provider_is_described(tmp_path: Path) -> None:
    result = check(tmp_path, EXPLICIT)
    assert result.exit_code == 0, result.output
    assert "acme: ok" in result.output
    assert "scope separator ','" in result.output and "do not rotate" in result.output
    assert "acme-secret" not in result.output
    assert "contio: not configured" in result.output


def test_a_malformed_profile_fails_naming_the_provider_and_field(tmp_path: Path) -> None:
    result = check(tmp_path, EXPLICIT.replace('scope_separator = ","', 'scope_separator = "x"'))
    assert result.exit_code == 1
    assert "[providers.acme]" in result.output and "scope_separator" in result.output


def test_online_reports_what_discovery_found(tmp_path: Path, sandbox: ServerThread) -> None:
    result = check(
        tmp_path, discovered(sandbox.url), "--online", GATEWAY_PROVIDERS_ALLOW_LOOPBACK_HTTP="1"
    )
    assert result.exit_code == 0, result.output
    assert f"token_endpoint {sandbox.url}/oauth2/token" in result.output
    assert f"jwks_uri {sandbox.url}/.well-known/jwks.json" in result.output


def test_online_fails_when_an_issuer_cannot_be_discovered(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    result = check(
        tmp_path, discovered(nobody), "--online", GATEWAY_PROVIDERS_ALLOW_LOOPBACK_HTTP="1"
    )
    assert result.exit_code == 1
    assert "acme" in result.output and "discovery" in result.output


def test_offline_needs_no_network(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    result = check(tmp_path, discovered(nobody), GATEWAY_PROVIDERS_ALLOW_LOOPBACK_HTTP="1")
    assert result.exit_code == 0, result.output
    assert f"endpoints by discovery from {nobody}" in result.output


def test_plain_http_fails_the_check_unless_allowed(tmp_path: Path) -> None:
    result = check(tmp_path, discovered(f"http://127.0.0.1:{free_port()}"))
    assert result.exit_code == 1
    assert "issuer" in result.output and "https" in result.output
