"""``gateway clients show|update``, run in-process against the test database."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.kit.db import Database, sync_url
from gateway.models import AuditEvent


@pytest.fixture
def env(database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(database_url))


@pytest.fixture
def name(env: None) -> str:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    result = CliRunner().invoke(
        cli, ["clients", "create", name, "--scope", "proxy", "--allow", "GET /meetings/**"]
    )
    assert result.exit_code == 0, result.output
    return name


def run(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["clients", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_show_prints_the_policy_never_the_key(name: str) -> None:
    shown = run("show", name)
    assert shown["name"] == name
    assert shown["allow"] == ["GET /meetings/**"]
    assert (shown["own_users_only"], shown["user_pattern"], shown["rate_limit"]) == (
        False,
        None,
        None,
    )
    assert "key_hash" not in shown and "key" not in shown


def test_show_in_text_says_what_the_client_may_do(name: str) -> None:
    result = CliRunner().invoke(cli, ["clients", "show", name])
    assert result.exit_code == 0
    assert "GET /meetings/**" in result.output and "users:      any" in result.output


def test_update_adds_and_removes_rules_and_scopes(name: str) -> None:
    updated = run(
        "update", name,
        "--add-allow", "post /meetings", "--add-allow", "GET /profile",
        "--remove-allow", "GET /meetings/**", "--add-scope", "connect",
    )  # fmt: skip
    assert updated["allow"] == ["POST /meetings", "GET /profile"]
    assert updated["scopes"] == ["connect", "proxy"]


def test_update_sets_and_lifts_the_namespace_and_rate_limit(name: str) -> None:
    confined = run(
        "update", name,
        "--own-users-only", "--user-pattern", "billing-.*", "--rate-limit", "600/min", "--burst", "20",
    )  # fmt: skip
    assert confined["own_users_only"] is True
    assert confined["user_pattern"] == "billing-.*"
    assert confined["rate_limit"] == {"per_second": 10.0, "burst": 20}
    lifted = run("update", name, "--any-users", "--no-user-pattern", "--no-rate-limit")
    assert (lifted["own_users_only"], lifted["user_pattern"], lifted["rate_limit"]) == (
        False,
        None,
        None,
    )


def test_update_disables_and_enables_the_key(name: str) -> None:
    assert run("update", name, "--disable")["revoked"] is True
    assert run("update", name, "--enable")["revoked"] is False


async def test_an_update_is_audited(name: str, db: Database) -> None:
    await asyncio.to_thread(run, "update", name, "--add-allow", "GET /profile")
    async with db.transaction() as session:
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "client.updated", AuditEvent.details["client"].astext == name
            )
        )
    assert event is not None
    assert event.actor.startswith("cli:")
    assert event.details["changed"] == {"allow": ["GET /meetings/**", "GET /profile"]}


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--remove-allow", "GET /nowhere"], "rule_not_found"),
        (["--add-allow", "FETCH /x"], "invalid_rule"),
        (["--remove-scope", "proxy"], "invalid_scope"),
        (["--user-pattern", "("], "invalid_user_pattern"),
        (["--rate-limit", "lots"], "invalid_rate_limit"),
    ],
)
def test_bad_updates_fail_with_exit_1_and_change_nothing(
    name: str, args: list[str], code: str
) -> None:
    result = CliRunner().invoke(cli, ["clients", "update", name, *args])
    assert result.exit_code == 1
    assert code in result.output
    assert run("show", name)["allow"] == ["GET /meetings/**"]


def test_an_unknown_client_exits_1(env: None) -> None:
    result = CliRunner().invoke(cli, ["clients", "show", "nobody-by-that-name"])
    assert result.exit_code == 1
    assert "client_not_found" in result.output


def test_revoke_asks_first_then_disables_the_key_and_audits(name: str) -> None:
    refused = CliRunner().invoke(cli, ["clients", "revoke", name], input="n\n")
    assert refused.exit_code == 1
    assert run("show", name)["revoked"] is False

    result = CliRunner().invoke(cli, ["clients", "revoke", name, "--yes"])

    assert result.exit_code == 0, result.output
    assert run("show", name)["revoked"] is True
    tail = CliRunner().invoke(cli, ["audit", "tail", "--action", "client.revoked", "--json"])
    assert tail.exit_code == 0, tail.output
    events = [json.loads(line) for line in tail.output.splitlines()]
    assert events[-1]["details"] == {"client": name}
    assert events[-1]["actor"].startswith("cli:")


def test_revoking_an_unknown_client_exits_1(env: None) -> None:
    result = CliRunner().invoke(cli, ["clients", "revoke", "nobody-here", "--yes"])
    assert result.exit_code == 1
    assert "client_not_found" in result.output


def test_audit_tail_prints_the_newest_events_oldest_first(name: str) -> None:
    for change in ("--own-users-only", "--any-users"):
        assert CliRunner().invoke(cli, ["clients", "update", name, change]).exit_code == 0
    tail = CliRunner().invoke(cli, ["audit", "tail", "-n", "2", "--action", "client.updated"])
    assert tail.exit_code == 0, tail.output
    first, second = tail.output.splitlines()
    assert "own_users_only" in first and "own_users_only" in second
    assert first[:24] <= second[:24]  # RFC 3339 times sort as text: oldest first


def test_audit_tail_follow_prints_events_as_they_are_written(name: str, database_url: URL) -> None:
    earlier = f"svc-{uuid.uuid4().hex[:8]}"
    assert (
        CliRunner().invoke(cli, ["clients", "create", earlier, "--scope", "proxy"]).exit_code == 0
    )
    assert CliRunner().invoke(cli, ["clients", "revoke", earlier, "--yes"]).exit_code == 0
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": sync_url(database_url),
        "GATEWAY_LOG_FORMAT": "text",
    }
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "audit",
            "tail",
            "-n",
            "1",
            "--follow",
            "--interval",
            "0.1",
            "--action",
            "client.revoked",
            "--json",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in follower.stdout or ():
            lines.put(line)

    def next_revoked_client() -> str:
        """The next of this test's two clients revoked (other tests revoke clients too)."""
        while True:
            event = json.loads(lines.get(timeout=20))
            client: str = event["details"]["client"]
            if client in (earlier, name):
                return client

    threading.Thread(target=read, daemon=True).start()
    try:
        assert next_revoked_client() == earlier  # it has printed the newest and now follows
        assert CliRunner().invoke(cli, ["clients", "revoke", name, "--yes"]).exit_code == 0
        assert next_revoked_client() == name
    finally:
        follower.terminate()
        follower.wait(10)
