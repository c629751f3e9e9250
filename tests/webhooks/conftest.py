"""A gateway that forwards Contio's events, on a database of its own (its deliverer works on every
committed row), the sandbox sending it real webhooks, and a receiver of the signed events.

``forwarding.url`` forwards to the operator-wide endpoint (``GATEWAY_EVENT_ENDPOINTS_FORWARDED``);
``forwarding.url_off`` is a second gateway on the same database that does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.settings import Settings
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import ServerThread, free_port, serving
from tests.fixtures.stack import gateway_settings
from tests.hostile.owner_fixtures import make_client
from tests.webhooks.forwarding_fixtures import (
    SIGNING_SECRET,
    WEBHOOK_SECRET,
    Clients,
    Forwarding,
    Receiver,
    connected,
    counters,
    receiver_app,
)


@pytest.fixture(scope="package")
def forwarding_database_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_forwarding") as url:
        yield url


@pytest.fixture(scope="package")
async def forwarding(forwarding_database_url: URL) -> AsyncIterator[Forwarding]:
    receiver = Receiver()
    port, off_port = free_port(), free_port()
    sandbox_app = create_sandbox_app(
        SandboxOptions(
            redirect_uris=tuple(f"http://127.0.0.1:{p}/oauth/callback" for p in (port, off_port)),
            auto_approve=True,
            webhook_url=f"http://127.0.0.1:{port}/webhooks/contio",
            webhook_secret=WEBHOOK_SECRET,
        )
    )
    with serving(receiver_app(receiver)) as receiving, serving(sandbox_app) as sandbox:
        receiver.url = f"{receiving.url}/events"

        def settings(forwarded: bool, gateway_port: int) -> Settings:
            return gateway_settings(
                gateway_port,
                sandbox.url,
                contio_webhook_secrets=SecretStr(WEBHOOK_SECRET),
                event_endpoints=(receiver.url,),
                event_signing_secrets=SecretStr(SIGNING_SECRET),
                event_endpoints_forwarded=forwarded,
                refresher_interval_seconds=0.1,
            )

        on = settings(True, port)
        # Only the first runs the background jobs: they deliver every gateway's events.
        gateway = ServerThread(
            create_app(on, forwarding_database_url, run_refresher=True), port=port
        ).start()
        gateway_off = ServerThread(
            create_app(settings(False, off_port), forwarding_database_url), port=off_port
        ).start()
        database = Database(forwarding_database_url, pool_size=2)
        try:
            yield Forwarding(
                gateway.url,
                gateway_off.url,
                on,
                forwarding_database_url,
                database,
                receiver,
                sandbox_app,
            )
        finally:
            await report_figures(gateway.url, gateway_off.url)
            await database.dispose()
            gateway_off.stop()
            gateway.stop()


async def report_figures(*urls: str) -> None:
    """The run's forwarding counters of both gateways, for the record (shown with pytest -s)."""
    totals: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for url in urls:
            for name, value in counters((await http.get(f"{url}/metrics")).text).items():
                totals[name] = totals.get(name, 0) + value
    print(
        f"\nforwarding figures: {totals.get('events', 0):.0f} events forwarded from "
        f"{totals.get('forwarded', 0):.0f} webhooks, {totals.get('duplicate', 0):.0f} duplicates "
        f"suppressed, {totals.get('unmatched', 0):.0f} unmatched kept"
    )


@pytest.fixture
async def forwarding_http(forwarding: Forwarding) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=forwarding.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="package")
async def clients(forwarding: Forwarding) -> Clients:
    service, allow = ["connect", "proxy"], ["GET /**", "POST /**"]
    return Clients(
        crm=await make_client(forwarding.db, service, allow),
        billing=await make_client(forwarding.db, service, allow, own_users_only=True),
        operator=await make_client(forwarding.db, ["admin"]),
    )


@pytest.fixture(scope="package")
async def labelled(forwarding: Forwarding, clients: Clients) -> Connection:
    """A connection of the unconfined client with labels and an external id."""
    async with httpx.AsyncClient(base_url=forwarding.url, timeout=10) as http:
        connection = await connected(forwarding, http, clients.crm.key)
        patched = await http.patch(
            f"/v1/connections/{connection.id}",
            json={"labels": {"team": "sales"}, "external_ids": ["crm-42"]},
            headers=clients.operator.auth,
        )
        assert patched.status_code == 200, patched.text
    return connection
