"""``gateway subscriptions``: an operator manages any client's subscriptions from the shell,
against the database and a real receiver on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL
from standardwebhooks.webhooks import Webhook

from gateway.cli import cli
from tests.events.subscription_fixtures import Inbox, inbox, loopback_stack
from tests.fixtures.stack import Stack, cli_environment
from tests.hostile.owner_fixtures import Clients, clients

__all__ = ["clients", "inbox", "loopback_stack"]  # fixtures


@pytest.fixture
def env(loopback_stack: Stack, database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        **cli_environment(loopback_stack.settings, database_url),
        "GATEWAY_SUBSCRIPTIONS_ALLOW_LOOPBACK_HTTP": "true",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)


pytestmark = pytest.mark.usefixtures("env")


async def gateway(args: Sequence[str]) -> Result:
    """Run the command in a thread of its own: it runs its own event loop, as from a shell."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


def last_line(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


async def test_an_operator_subscribes_a_client_pings_rotates_and_deletes(
    clients: Clients, inbox: Inbox
) -> None:
    box = inbox.box()
    created = await gateway(
        [
            "subscriptions", "create", "--client", clients.confined.name, "--url", box,
            "--event-type", "connection.*", "--label", "team=sales", "--json",
        ]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    subscription = json.loads(created.output)
    first = subscription["secret"]
    assert subscription["client_id"] == str(clients.confined.id)
    assert subscription["label_selector"] == ["team=sales"]

    rotated = last_line(await gateway(["subscriptions", "rotate-secret", subscription["id"]]))
    assert rotated.startswith("whsec_") and rotated != first
    pinged = await gateway(["subscriptions", "ping", subscription["id"]])
    assert pinged.exit_code == 0, pinged.output
    [received] = inbox.at(box)
    for secret in (first, rotated):
        assert Webhook(secret).verify(received.body, received.headers)["type"] == "gateway.ping"

    shown = await gateway(["subscriptions", "show", subscription["id"]])
    assert box in shown.output and first not in shown.output and rotated not in shown.output
    log = await gateway(["subscriptions", "deliveries", subscription["id"], "--json"])
    assert [item["state"] for item in json.loads(log.output)] == ["delivered"]
    listed = await gateway(["subscriptions", "list", "--client", clients.confined.name])
    assert subscription["id"] in listed.output

    disabled = await gateway(["subscriptions", "update", subscription["id"], "--disable"])
    assert disabled.exit_code == 0 and "disabled" in disabled.output
    refused = await gateway(["subscriptions", "ping", subscription["id"]])
    assert refused.exit_code == 1 and "subscription_disabled" in refused.output

    deleted = await gateway(["subscriptions", "delete", subscription["id"], "--yes"])
    assert deleted.exit_code == 0, deleted.output
    gone = await gateway(["subscriptions", "show", subscription["id"]])
    assert gone.exit_code == 1 and "subscription_not_found" in gone.output


async def test_create_refuses_a_private_address_and_prints_no_secret(clients: Clients) -> None:
    result = await gateway(
        [
            "subscriptions", "create", "--client", clients.open_.name,
            "--url", "https://10.0.0.7/hook", "--event-type", "*",
        ]
    )  # fmt: skip
    assert result.exit_code == 1
    assert "subscription_url_not_allowed" in result.output and "whsec_" not in result.output
