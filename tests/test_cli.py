"""The ``gateway`` command, run in-process against the test database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.kit.db import sync_url


@pytest.fixture
def env(database_url: URL, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"GATEWAY_DATABASE_URL": sync_url(database_url)}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_clients_create_prints_the_key_alone_on_the_last_line(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        cli, ["clients", "create", "billing", "--scope", "proxy", "--allow", "GET /meetings/**"]
    )
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("gw_") and " " not in last and len(last) > 40


def test_clients_create_json(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        cli, ["clients", "create", "crm", "--scope", "connect", "--scope", "proxy", "--json"]
    )
    data = json.loads(result.output)
    assert data["scopes"] == ["connect", "proxy"] and data["key"].startswith("gw_")


def test_duplicate_client_name_fails_with_exit_1(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["clients", "create", "dup", "--scope", "proxy"])
    result = runner.invoke(cli, ["clients", "create", "dup", "--scope", "proxy"])
    assert result.exit_code == 1
    assert "client_exists" in result.output


def test_bad_allow_rule_fails_with_a_clear_message(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        cli, ["clients", "create", "bad", "--scope", "proxy", "--allow", "FETCH /x"]
    )
    assert result.exit_code == 1
    assert "invalid_rule" in result.output


def test_unknown_scope_is_a_usage_error(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["clients", "create", "x", "--scope", "root"])
    assert result.exit_code == 2


def test_clients_list_never_shows_keys(env: dict[str, str]) -> None:
    runner = CliRunner()
    created = json.loads(
        runner.invoke(cli, ["clients", "create", "lister", "--scope", "proxy", "--json"]).output
    )
    listed = runner.invoke(cli, ["clients", "list", "--json"])
    assert created["key"] not in listed.output
    assert any(row["name"] == "lister" for row in json.loads(listed.output))


def test_migrate_is_idempotent(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_serve_without_encryption_keys_stops_with_a_clear_message(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 1
    assert "GATEWAY_ENCRYPTION_KEYS" in result.stderr


def test_keys_generate_prints_a_usable_entry() -> None:
    result = CliRunner().invoke(cli, ["keys", "generate", "--id", "k2"])
    assert result.output.startswith("k2:")


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["clients", "create", "--help"],
        ["dev", "--help"],
    ):
        assert CliRunner().invoke(cli, args).exit_code == 0


# Refused before anything starts: no embedded PostgreSQL is started, no port is opened.

CONTIO = {"GATEWAY_CONTIO_CLIENT_ID": "client", "GATEWAY_CONTIO_CLIENT_SECRET": "secret"}
GOOD_KEY = {"GATEWAY_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "="}


def refused(tmp_path: Path, args: list[str], values: dict[str, str]) -> str:
    """Run ``gateway ARGS`` in ``tmp_path`` with only ``values`` set; returns its one-line error."""
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **values},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert not (tmp_path / ".gateway" / "postgres").exists()  # nothing started
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["serve"], ["worker"]])
def test_a_malformed_encryption_key_is_refused_before_anything_starts(
    tmp_path: Path, command: list[str]
) -> None:
    error = refused(tmp_path, command, {"GATEWAY_ENCRYPTION_KEYS": "k1:not-base64!", **CONTIO})
    assert "encryption key 'k1' is not valid base64" in error


@pytest.mark.parametrize("command", [["serve"], ["worker"]])
def test_no_provider_is_refused_before_anything_starts(tmp_path: Path, command: list[str]) -> None:
    error = refused(tmp_path, command, GOOD_KEY)
    assert "no provider is configured" in error and "GATEWAY_CONTIO_CLIENT_ID" in error


def test_serve_refuses_a_bad_number_of_workers_before_anything_starts(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--workers", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--workers': 0 is not in the range x>=1" in result.output
    error = refused(tmp_path, ["serve"], {**GOOD_KEY, **CONTIO, "GATEWAY_SERVE_WORKERS": "many"})
    assert "GATEWAY_SERVE_WORKERS" in error


def test_revoke_without_a_provider_is_refused_before_it_revokes(tmp_path: Path) -> None:
    error = refused(
        tmp_path, ["connections", "revoke", "00000000-0000-4000-8000-000000000000"], GOOD_KEY
    )
    assert "no provider is configured" in error


def test_dev_with_a_malformed_dev_key_is_refused_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / ".gateway").mkdir()
    (tmp_path / ".gateway" / "dev-secrets.json").write_text('{"encryption_keys": "dev1:c2hvcnQ="}')
    error = refused(tmp_path, ["dev"], {})
    assert "encryption key 'dev1' must be 32 bytes" in error


def test_a_malformed_setting_is_told_in_the_gateways_words(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["clients", "list"], env={"GATEWAY_DATABASE_POOL_SIZE": "0"})
    assert result.exit_code == 1
    assert "GATEWAY_DATABASE_POOL_SIZE: must be at least 1" in result.output
    assert "pydantic" not in result.output and "Input should" not in result.output
