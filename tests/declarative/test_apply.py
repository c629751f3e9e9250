"""``gateway apply``: a declarative file of service clients and subscriptions reconciled with a
database of the module's own (``--prune`` touches every client), checked from the outside: the
written keys against a real gateway over loopback, the state through the CLI."""

from __future__ import annotations

import asyncio
import hashlib
import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.events.subscriptions import new_secret
from gateway.kit.db import Database
from gateway.models import AuditEvent
from tests.fixtures.database import fresh_database
from tests.fixtures.stack import Stack, cli_environment, running_stack


@pytest.fixture(scope="module")
def apply_database_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_apply") as url:
        yield url


@pytest.fixture(scope="module")
def apply_stack(apply_database_url: URL) -> Iterator[Stack]:
    with running_stack(apply_database_url) as running:
        yield running


@pytest.fixture(autouse=True)
def env(apply_stack: Stack, apply_database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        **cli_environment(apply_stack.settings, apply_database_url),
        "GATEWAY_SUBSCRIPTIONS_ALLOW_LOOPBACK_HTTP": "true",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)


class Declared:
    """Two clients (one confined to its own users) and a subscription, written as YAML or JSON."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.directory = directory
        self.billing = f"billing-{suffix}"
        self.reports = f"reports-{suffix}"
        self.key_file = directory / "billing.key"
        self.reports_key = "gw_" + uuid.uuid4().hex + uuid.uuid4().hex
        self.secret_variable = f"HOOK_SECRET_{suffix.upper()}"
        self.secret = new_secret()
        monkeypatch.setenv(self.secret_variable, self.secret)
        self.url = f"http://127.0.0.1:9/hooks/{suffix}"
        self.data: dict[str, Any] = {
            "version": 1,
            "clients": {
                self.billing: {
                    "scopes": ["connect", "proxy"],
                    "allow": ["GET /meetings/**"],
                    "own_users_only": True,
                    "rate_limit": {"rate": "50/s", "burst": 100},
                    "key_file": str(self.key_file),
                    "subscriptions": [
                        {
                            "url": self.url,
                            "event_types": ["connection.*"],
                            "label_selector": ["team=billing"],
                            "secret": {"env": self.secret_variable},
                        }
                    ],
                },
                self.reports: {
                    "scopes": ["connect"],
                    "key_sha256": hashlib.sha256(self.reports_key.encode()).hexdigest(),
                    "key_prefix": self.reports_key[:11],
                },
            },
        }

    def client(self, name: str) -> dict[str, Any]:
        clients: dict[str, Any] = self.data["clients"]
        return clients[name]  # type: ignore[no-any-return]

    def write(self, name: str = "gateway.yaml") -> Path:
        path = self.directory / name
        if path.suffix == ".json":
            path.write_text(json.dumps(self.data))
        else:
            import yaml

            path.write_text(yaml.safe_dump(self.data))
        return path


@pytest.fixture
def declared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Declared:
    return Declared(tmp_path, monkeypatch)


def gateway(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def applied(*args: str) -> str:
    result = gateway("apply", *args)
    assert result.exit_code == 0, result.output
    return result.output


def shown(name: str) -> dict[str, Any]:
    result = gateway("clients", "show", name, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def subscriptions_of(name: str) -> list[dict[str, Any]]:
    result = gateway("subscriptions", "list", "--client", name, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def status_with(stack: Stack, key: str) -> int:
    response = httpx.get(
        f"{stack.gateway.url}/v1/connections", headers={"authorization": f"Bearer {key}"}
    )
    return response.status_code


def test_apply_creates_both_clients_and_the_subscription(
    declared: Declared, apply_stack: Stack
) -> None:
    output = applied(str(declared.write()))

    assert f"+ create client {declared.billing}" in output
    assert f"+ create subscription {declared.billing} {declared.url}" in output
    assert declared.secret not in output and "applied 3 changes" in output
    billing = shown(declared.billing)
    assert (billing["own_users_only"], billing["allow"]) == (True, ["GET /meetings/**"])
    assert billing["rate_limit"] == {"per_second": 50.0, "burst": 100}
    assert shown(declared.reports)["scopes"] == ["connect"]
    [subscription] = subscriptions_of(declared.billing)
    assert subscription["label_selector"] == ["team=billing"]
    assert subscriptions_of(declared.reports) == []
    # Both keys work from the outside: the written one and the one declared by its hash.
    assert stat.S_IMODE(declared.key_file.stat().st_mode) == 0o600
    billing_key = declared.key_file.read_text().strip()
    assert status_with(apply_stack, billing_key) == 200
    assert status_with(apply_stack, declared.reports_key) == 200


def test_applying_the_same_file_twice_changes_nothing(declared: Declared) -> None:
    path = declared.write("gateway.json")
    applied(str(path))
    key = declared.key_file.read_text()

    again = applied(str(path))

    assert again.strip() == "no changes"
    assert declared.key_file.read_text() == key
    assert len(subscriptions_of(declared.billing)) == 1


def test_an_update_is_printed_field_by_field_and_made(
    declared: Declared, apply_stack: Stack
) -> None:
    applied(str(declared.write()))
    billing = declared.client(declared.billing)
    billing["allow"] = ["GET /meetings/**", "POST /meetings"]
    billing["rate_limit"] = None
    billing["subscriptions"][0]["enabled"] = False

    output = applied(str(declared.write()))

    assert f"~ update client {declared.billing}" in output
    assert '    allow: ["GET /meetings/**"] -> ["GET /meetings/**", "POST /meetings"]' in output
    assert '    rate_limit: {"per_second": 50.0, "burst": 100} -> null' in output
    assert "    enabled: true -> false" in output
    assert f"client {declared.reports}" not in output
    assert shown(declared.billing)["rate_limit"] is None
    assert subscriptions_of(declared.billing)[0]["enabled"] is False


def test_a_dry_run_prints_the_changes_and_makes_none(declared: Declared) -> None:
    output = applied(str(declared.write()), "--dry-run")

    assert f"+ create client {declared.billing}" in output
    assert "dry run: 3 changes, nothing applied" in output
    assert gateway("clients", "show", declared.billing).exit_code == 1
    assert not declared.key_file.exists()


@pytest.mark.parametrize(
    ("where", "field"),
    [
        (("clients", "{billing}"), "scope"),
        (("clients", "{billing}", "subscriptions", 0), "urll"),
        (("clients", "{billing}", "rate_limit"), "per_minute"),
    ],
)
def test_an_unknown_field_is_refused_with_its_path_and_nothing_changes(
    declared: Declared, where: tuple[str | int, ...], field: str
) -> None:
    target: Any = declared.data
    for part in where:
        target = target[part.format(billing=declared.billing) if isinstance(part, str) else part]
    target[field] = "x"

    result = gateway("apply", str(declared.write()))

    path = ".".join(
        str(part.format(billing=declared.billing) if isinstance(part, str) else part)
        for part in (*where, field)
    )
    assert result.exit_code == 1
    assert f"{path}: is not a field" in result.output
    assert gateway("clients", "show", declared.reports).exit_code == 1


@pytest.mark.parametrize(
    ("field", "value", "refusal"),
    [
        ("allow", ["FETCH /meetings"], "FETCH"),
        ("scopes", ["proxy", "superuser"], "scopes must be one or more of"),
        ("user_pattern", "billing-(", "is not a regular expression"),
        ("rate_limit", {"rate": "50/fortnight"}, "expected RATE/UNIT"),
    ],
)
def test_a_rule_of_the_clients_store_refuses_the_file_naming_the_field(
    declared: Declared, field: str, value: object, refusal: str
) -> None:
    declared.client(declared.billing)[field] = value

    result = gateway("apply", str(declared.write()), "--dry-run")

    assert result.exit_code == 1
    assert f"clients.{declared.billing}.{field}" in result.output and refusal in result.output
    assert gateway("apply", str(declared.write())).exit_code == 1
    assert gateway("clients", "show", declared.reports).exit_code == 1
    assert not declared.key_file.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("url", "http://10.0.0.1/hooks"), ("event_types", ["connection.**x"])],
)
def test_a_rule_of_the_subscriptions_refuses_the_file_naming_the_field(
    declared: Declared, field: str, value: object
) -> None:
    declared.client(declared.billing)["subscriptions"][0][field] = value

    result = gateway("apply", str(declared.write()))

    assert result.exit_code == 1
    assert f"clients.{declared.billing}.subscriptions.0.{field}: " in result.output
    assert gateway("clients", "show", declared.billing).exit_code == 1


def test_a_secret_written_inline_is_refused_and_never_echoed(declared: Declared) -> None:
    declared.client(declared.billing)["subscriptions"][0]["secret"] = declared.secret

    result = gateway("apply", str(declared.write()))

    assert result.exit_code == 1
    assert f"clients.{declared.billing}.subscriptions.0.secret" in result.output
    assert declared.secret not in result.output


def test_a_secret_reference_that_names_nothing_is_refused(declared: Declared) -> None:
    secret_file = declared.directory / "missing-secret"
    declared.client(declared.billing)["subscriptions"][0]["secret"] = {"file": str(secret_file)}

    result = gateway("apply", str(declared.write()))

    assert result.exit_code == 1
    assert f"clients.{declared.billing}.subscriptions.0.secret: cannot read" in result.output


def test_a_changed_secret_reference_rotates_the_signing_secret(
    declared: Declared, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied(str(declared.write()))
    secret_file = declared.directory / "hook-secret"
    secret_file.write_text(new_secret() + "\n")
    declared.client(declared.billing)["subscriptions"][0]["secret"] = {"file": str(secret_file)}

    output = applied(str(declared.write()))

    assert "    secret: *** -> *** (rotated; the old one keeps signing)" in output
    assert secret_file.read_text().strip() not in output
    [subscription] = subscriptions_of(declared.billing)
    shown_subscription = gateway("subscriptions", "show", subscription["id"], "--json")
    assert len(json.loads(shown_subscription.output)["secrets"]) == 2
    assert applied(str(declared.write())).strip() == "no changes"


def test_an_existing_key_file_is_refused_and_nothing_is_applied(declared: Declared) -> None:
    declared.key_file.write_text("something the operator keeps\n")

    result = gateway("apply", str(declared.write()))

    assert result.exit_code == 1
    assert f"clients.{declared.billing}: key_file {declared.key_file} exists" in result.output
    assert declared.key_file.read_text() == "something the operator keeps\n"
    assert gateway("clients", "show", declared.reports).exit_code == 1


def test_a_new_client_without_a_key_is_refused(declared: Declared) -> None:
    del declared.client(declared.billing)["key_file"]

    result = gateway("apply", str(declared.write()))

    assert result.exit_code == 1
    assert "needs key_file or key_sha256" in result.output


def test_a_changed_key_hash_replaces_the_clients_key(
    declared: Declared, apply_stack: Stack
) -> None:
    applied(str(declared.write()))
    new_key = "gw_" + uuid.uuid4().hex + uuid.uuid4().hex
    reports = declared.client(declared.reports)
    reports["key_sha256"] = hashlib.sha256(new_key.encode()).hexdigest()
    reports["key_prefix"] = new_key[:11]

    output = applied(str(declared.write()))

    assert "    key: *** -> *** (the key of key_sha256)" in output
    assert status_with(apply_stack, new_key) == 200
    assert status_with(apply_stack, declared.reports_key) == 401


def test_what_the_file_leaves_out_is_kept_unless_pruned(
    declared: Declared, apply_stack: Stack
) -> None:
    applied(str(declared.write()))
    billing_key = declared.key_file.read_text().strip()
    del declared.data["clients"][declared.billing]
    path = declared.write()

    assert applied(str(path)).strip() == "no changes"
    assert status_with(apply_stack, billing_key) == 200

    output = applied(str(path), "--prune")

    assert f"- disable client {declared.billing}" in output
    assert f"- delete subscription {declared.billing} {declared.url}" in output
    assert status_with(apply_stack, billing_key) == 401
    assert subscriptions_of(declared.billing) == []
    assert status_with(apply_stack, declared.reports_key) == 200


def test_every_change_is_audited_as_the_os_user(
    declared: Declared, apply_database_url: URL
) -> None:
    applied(str(declared.write()))

    async def entries() -> list[tuple[str, str]]:
        db = Database(apply_database_url, pool_size=1)
        try:
            async with db.transaction() as session:
                rows = await session.scalars(
                    select(AuditEvent).where(
                        AuditEvent.details["client"].astext.in_(
                            [declared.billing, declared.reports]
                        )
                    )
                )
                return sorted((row.actor, row.action) for row in rows)
        finally:
            await db.dispose()

    found = asyncio.run(entries())
    assert [action for _, action in found] == ["client.created", "client.created"]
    assert all(who.startswith("cli:") for who, _ in found)
    applied(str(declared.write()))  # no changes, nothing audited
    assert asyncio.run(entries()) == found
