"""``gateway dev`` (what `make run` starts) as a new user meets it, run in a directory of its own with
no GATEWAY_* setting: the CLI works against it with ``gateway --dev``, and Ctrl-C or SIGTERM stops
it, its embedded PostgreSQL included, quietly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.cli.dev_stack import SECRETS_FILE
from tests.fixtures.servers import free_port
from tests.gateway_sandbox.driver import hidden_fields
from tests.lifecycle.processes import hermetic_env

GATEWAY = (sys.executable, "-m", "gateway")
START_SECONDS = 120
STOP_SECONDS = 60


@dataclass
class Dev:
    """A running ``gateway dev`` in ``home``."""

    home: Path
    process: subprocess.Popen[bytes]
    url: str
    sandbox_url: str

    @property
    def data_dir(self) -> Path:
        return self.home / ".gateway"

    @property
    def service_key(self) -> str:
        key: str = json.loads((self.data_dir / SECRETS_FILE).read_text())["service_key"]
        return key

    def output(self) -> str:
        return (self.home / "dev.out").read_text()

    def errors(self) -> str:
        return (self.home / "dev.err").read_text()

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``gateway --dev ARGS`` from the stack's directory, with no GATEWAY_* setting."""
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "--dev", *args],
            cwd=self.home,
            env=hermetic_env({}),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result


def start_dev(home: Path) -> Dev:
    home.mkdir(parents=True, exist_ok=True)
    port, sandbox_port = free_port(), free_port()
    with (home / "dev.out").open("wb") as out, (home / "dev.err").open("wb") as err:
        process = subprocess.Popen(
            [*GATEWAY, "dev", "--port", str(port), "--sandbox-port", str(sandbox_port)],
            cwd=home,
            env=hermetic_env({"GATEWAY_LOG_FORMAT": "text"}),
            stdout=out,
            stderr=err,
        )
    dev = Dev(home, process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}")
    deadline = time.monotonic() + START_SECONDS
    while "--dev connections list" not in dev.output():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"gateway dev did not start:\n{dev.errors()}")
        time.sleep(0.1)
    for url in (f"{dev.url}/readyz", f"{dev.sandbox_url}/oauth2/health"):
        while True:
            try:
                if httpx.get(url).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)
    return dev


def stop_dev(dev: Dev, signum: int) -> int:
    """Send ``signum``; returns the exit status once the process is gone."""
    dev.process.send_signal(signum)
    return dev.process.wait(timeout=STOP_SECONDS)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    running = start_dev(Path(tmp_path_factory.mktemp("dev")))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            stop_dev(running, signal.SIGINT)


def connect_through_the_sandbox(dev: Dev, user_id: str) -> None:
    """The connect flow as the walkthrough tells it: a session, then the consent page approved."""
    with httpx.Client(timeout=10) as browser:
        opened = browser.post(
            f"{dev.url}/v1/connect-sessions",
            json={"user_id": user_id, "login_hint": f"{user_id}@example.com"},
            headers={"Authorization": f"Bearer {dev.service_key}"},
        )
        assert opened.status_code == 201, opened.text
        assert opened.json()["expires_at"].endswith("Z")
        to_provider = browser.get(opened.json()["connect_url"])
        assert to_provider.status_code == 302, to_provider.text
        consent = browser.get(to_provider.headers["location"])
        assert consent.status_code == 200, consent.text
        form = {**hidden_fields(consent.text), "decision": "approve"}
        approved = browser.post(f"{dev.sandbox_url}/oauth2/consent", data=form)
        assert approved.status_code == 302, approved.text
        done = browser.get(approved.headers["location"])
        assert done.status_code == 200, done.text


def test_dev_prints_how_to_use_the_cli_against_it(dev: Dev) -> None:
    output = dev.output()
    assert "--dev connections list" in output
    assert "--dev connections revoke" in output
    assert "Traceback" not in dev.errors()


def test_connections_list_works_with_no_database_url(dev: Dev) -> None:
    listed = json.loads(dev.cli("connections", "list", "--json").stdout)
    assert set(listed) == {"items", "next_cursor"}
    assert "asyncio" not in dev.cli("connections", "list").stderr


def test_clients_create_prints_the_key_alone_and_the_stack_accepts_it(dev: Dev) -> None:
    result = dev.cli("clients", "create", f"ops-{uuid.uuid4().hex[:6]}", "--scope", "admin")
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("gw_") and " " not in key
    listed = httpx.get(f"{dev.url}/v1/connections", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200, listed.text


def test_a_connection_made_through_the_stack_is_revoked_by_the_cli(dev: Dev) -> None:
    user_id = f"alice-{uuid.uuid4().hex[:6]}"
    connect_through_the_sandbox(dev, user_id)
    listed = json.loads(dev.cli("connections", "list", "--user", user_id, "--json").stdout)
    [connection] = listed["items"]
    assert connection["status"] == "active"

    result = dev.cli("connections", "revoke", connection["id"], "--json")

    [revoked] = json.loads(result.stdout)
    assert revoked["status"] == "revoked"
    assert revoked["upstream_revocation"] == "done"  # the dev stack's sandbox was asked
    assert revoked["access_token_expires_at"] is None
    shown: dict[str, Any] = json.loads(
        dev.cli("connections", "show", connection["id"], "--json").stdout
    )
    connected = [e for e in shown["audit_events"] if e["action"] == "connection.created"]
    assert [e["actor"] for e in connected] == ["client:dev"]
    assert all(e["occurred_at"].endswith("Z") for e in shown["audit_events"])


def test_dev_without_a_stack_says_how_to_start_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--dev", "connections", "list"],
        cwd=tmp_path,
        env=hermetic_env({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "make run" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / ".gateway").exists()


def test_sigterm_and_ctrl_c_stop_it_and_its_postgresql_quietly(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = Path(tmp_path_factory.mktemp("dev-signals"))
    for signum in (signal.SIGTERM, signal.SIGINT):
        running = start_dev(home)
        postmaster = running.postmaster_pid()
        assert is_running(postmaster)

        status = stop_dev(running, signum)

        assert status in (0, 130), running.errors()
        assert "Traceback" not in running.errors()
        deadline = time.monotonic() + STOP_SECONDS
        while is_running(postmaster):  # stopped before exit; init reaps it
            assert time.monotonic() < deadline, f"postgres {postmaster} still runs"
            time.sleep(0.05)
        assert not (running.data_dir / "postgres" / "postmaster.pid").exists()
