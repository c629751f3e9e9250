"""``gateway contio webhooks status|filter|enable|disable`` against a real sandbox on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL
from starlette.applications import Starlette

from gateway.cli import cli
from gateway.kit.crypto import generate_key_entry
from gateway.kit.db import sync_url
from gateway_sandbox import SandboxOptions, create_sandbox_app
from gateway_sandbox.state.store import SandboxStore
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import ServerThread, serving

ADMIN_KEY = "cli-admin-key"


@pytest.fixture
def sandbox() -> Iterator[tuple[ServerThread, SandboxStore]]:
    """A sandbox whose webhook points nowhere reachable, so its deliveries are abandoned."""
    options = SandboxOptions(
        admin_api_key=ADMIN_KEY, webhook_url="http://127.0.0.1:9/hook", webhook_retry_delays=()
    )
    app: Starlette = create_sandbox_app(options)
    with serving(app) as server:
        yield server, app.state.sandbox


@pytest.fixture(scope="module")
def database_url(server_url: URL) -> Iterator[URL]:
    """A database of this module's own: ``--sync`` reads every subscription in it."""
    with fresh_database(server_url, "gw_contio_cli") as url:
        yield url


@pytest.fixture
def env(
    sandbox: tuple[ServerThread, SandboxStore], database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = sandbox
    for key, value in {
        "GATEWAY_CONTIO_API_URL": server.url,
        "GATEWAY_CONTIO_AUTH_URL": server.url,
        "GATEWAY_CONTIO_CLIENT_ID": "sandbox-client",
        "GATEWAY_CONTIO_CLIENT_SECRET": "sandbox-secret",
        "GATEWAY_CONTIO_ADMIN_API_KEY": ADMIN_KEY,
        "GATEWAY_DATABASE_URL": sync_url(database_url),
        "GATEWAY_ENCRYPTION_KEYS": generate_key_entry("cli1"),  # subscriptions seal secrets
    }.items():
        monkeypatch.setenv(key, value)


def gateway(*args: str) -> Result:
    return CliRunner().invoke(cli, ["contio", "webhooks", *args])


def as_json(*args: str) -> dict[str, object]:
    result = gateway(*args, "--json")
    assert result.exit_code == 0, result.output
    shown: dict[str, object] = json.loads(result.output)
    return shown


pytestmark = pytest.mark.usefixtures("env")


def test_status_shows_the_webhook_and_its_deliveries(
    sandbox: tuple[ServerThread, SandboxStore],
) -> None:
    _, store = sandbox
    user = store.sign_in("ann@example.com")
    store.events.publish("meeting.created", {"meeting_id": "m"}, user)
    assert store.deliveries.wait_for(lambda found: found[0].status == "abandoned")

    result = gateway("status")

    assert result.exit_code == 0, result.output
    assert "webhook: on" in result.output
    assert "url: http://127.0.0.1:9/hook" in result.output
    assert "filter: none" in result.output
    assert "abandoned 1" in result.output
    assert ADMIN_KEY not in result.output
    assert as_json("status") == {
        "enabled": True,
        "url": "http://127.0.0.1:9/hook",
        "filter": None,
        "deliveries": {"pending": 0, "delivered": 0, "failed": 0, "abandoned": 1},
    }


def test_filter_sets_shows_and_removes_contios_filter(
    sandbox: tuple[ServerThread, SandboxStore],
) -> None:
    _, store = sandbox

    set_ = gateway("filter", "meeting.completed", "user.connection.revoked")

    assert set_.exit_code == 0, set_.output
    assert "filter: include meeting.completed, user.connection.revoked" in set_.output
    assert store.webhook_settings.admits("meeting.completed")
    assert not store.webhook_settings.admits("meeting.created")
    assert as_json("filter")["filter"] == {
        "type": "include",
        "events": ["meeting.completed", "user.connection.revoked"],
    }
    excluded = as_json("filter", "--exclude", "session.expired")
    assert excluded["filter"] == {"type": "exclude", "events": ["session.expired"]}
    removed = gateway("filter", "--remove")
    assert "filter: none" in removed.output
    assert store.webhook_settings.current().event_filter is None


def test_an_unknown_event_type_is_refused_by_contio_with_its_message() -> None:
    result = gateway("filter", "meeting.exploded")

    assert result.exit_code == 1
    assert "validation_error" in result.output
    assert "meeting.exploded" in result.output


def test_sync_without_subscriptions_asks_only_for_connection_revocations() -> None:
    shown = as_json("filter", "--sync")

    assert shown["filter"] == {"type": "include", "events": ["user.connection.revoked"]}


def test_sync_asks_for_exactly_what_the_subscriptions_want(
    sandbox: tuple[ServerThread, SandboxStore],
) -> None:
    _, store = sandbox
    for name, types in [
        ("sync-a", ["provider.contio.participant.*", "connection.*"]),
        ("sync-b", ["provider.contio.meeting.completed"]),
    ]:
        made = CliRunner().invoke(cli, ["clients", "create", name, "--scope", "proxy"])
        assert made.exit_code == 0, made.output
        flags = [part for kind in types for part in ("--event-type", kind)]
        url = f"https://8.8.8.8/{name}"  # a public address: no lookup, nothing sent
        made = CliRunner().invoke(
            cli, ["subscriptions", "create", "--client", name, "--url", url, *flags]
        )
        assert made.exit_code == 0, made.output
    # A disabled subscription wants nothing from Contio.
    made = CliRunner().invoke(
        cli,
        [
            "subscriptions",
            "create",
            "--client",
            "sync-b",
            "--url",
            "https://8.8.8.8/off",
            "--event-type",
            "provider.contio.agenda_item.*",
            "--disabled",
        ],
    )
    assert made.exit_code == 0, made.output

    shown = as_json("filter", "--sync")

    wanted = ["meeting.completed", "participant.added", "participant.removed"]
    assert shown["filter"] == {"type": "include", "events": [*wanted, "user.connection.revoked"]}
    current = store.webhook_settings.current().event_filter
    assert current is not None and current.events == (*wanted, "user.connection.revoked")


@pytest.mark.parametrize(
    "args", [("--sync", "meeting.created"), ("--remove", "--sync"), ("--exclude",)]
)
def test_contradicting_filter_options_are_a_usage_error(args: tuple[str, ...]) -> None:
    result = gateway("filter", *args)

    assert result.exit_code == 2


def test_disable_holds_events_and_enable_delivers_or_abandons_them(
    sandbox: tuple[ServerThread, SandboxStore],
) -> None:
    _, store = sandbox
    user = store.sign_in("ann@example.com")

    off = gateway("disable")
    store.events.publish("meeting.created", {"meeting_id": "m"}, user)

    assert "webhook: off" in off.output
    assert [d.status for d in store.deliveries.all()] == ["pending"]
    on = gateway("enable", "--pending", "abandon")
    assert on.exit_code == 0, on.output
    assert "webhook: on" in on.output
    assert [d.status for d in store.deliveries.all()] == ["abandoned"]
    assert as_json("status")["enabled"] is True


def test_without_the_admin_key_the_commands_say_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATEWAY_CONTIO_ADMIN_API_KEY")

    result = gateway("status")

    assert result.exit_code == 1
    assert "GATEWAY_CONTIO_ADMIN_API_KEY" in result.output


def test_a_wrong_admin_key_is_reported_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_CONTIO_ADMIN_API_KEY", "wrong-key-value")

    result = gateway("status")

    assert result.exit_code == 1
    assert "401" in result.output
    assert "wrong-key-value" not in result.output


def test_an_unreachable_contio_is_a_clean_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_CONTIO_API_URL", "http://127.0.0.1:9")

    result = gateway("enable")

    assert result.exit_code == 1
    assert "provider_unavailable" in result.output
