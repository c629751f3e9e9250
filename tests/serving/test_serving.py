"""``gateway serve --workers 2``: every serving process applies what changed, a client's rate
limit holds over all of them together, and a scrape counts them all.

Each test reaches every process on purpose (``reach.each_process``), with two service clients:
one that sees every user and one confined to the users it connected.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.clients.limits import RateLimit
from gateway.clients.store import ClientChanges, create_client, update_client
from gateway.kit.db import Database
from tests.e2e.flows import connect_new_user, load_connection
from tests.fixtures.ports import Ports
from tests.openapi.conformance import conforms
from tests.serving.conftest import PROCESSES
from tests.serving.reach import each_process, one_connection, slot_of

WITHIN = 5.0  # every process applies a change within a second; the margin is the machine's


@dataclass(frozen=True)
class Client:
    name: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_client(db: Database, **changes: Any) -> Client:
    name = f"svc-{uuid.uuid4().hex[:10]}"
    async with db.transaction() as session:
        _created, issued = await create_client(session, name, ["connect", "proxy"], ["GET /**"])
        if changes:
            await update_client(session, name, ClientChanges(**changes))
    return Client(name, issued.key)


async def change_client(db: Database, client: Client, **changes: Any) -> None:
    async with db.transaction() as session:
        await update_client(session, client.name, ClientChanges(**changes))


@pytest.fixture
async def open_(db: Database) -> Client:
    return await make_client(db)


@pytest.fixture
async def confined(db: Database) -> Client:
    return await make_client(db, own_users_only=True)


async def meetings(http: httpx.AsyncClient, client: Client, user_id: str) -> int:
    response = await http.get(f"/proxy/users/{user_id}/meetings", headers=client.auth)
    return response.status_code


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not await check():
        assert time.monotonic() < deadline, f"not within {WITHIN}s: {what}"


async def test_each_process_says_which_it_is_on_the_internal_port_only(served: Ports) -> None:
    async with each_process(served.url, PROCESSES) as processes:
        pids = set()
        for slot, http in processes.items():
            process = conforms(await http.get("/readyz"), "/readyz").json()["process"]
            assert (process["slot"], process["of"]) == (slot, PROCESSES)
            pids.add(process["pid"])
        assert len(pids) == PROCESSES
    async with httpx.AsyncClient(base_url=served.public_url, trust_env=False) as public:
        assert (await public.get("/healthz")).json() == {"status": "ok"}
        assert (await public.get("/readyz")).status_code == 404


async def users_of(http: httpx.AsyncClient, *clients: Client) -> dict[str, str]:
    """A user connected by each client (a confined client sees only its own), by client name."""
    return {client.name: await connect_new_user(http, client.key) for client in clients}


async def test_a_revoked_connection_is_refused_by_every_process(
    served: Ports, http: httpx.AsyncClient, db: Database, open_: Client, confined: Client
) -> None:
    users = await users_of(http, open_, confined)
    admin = await make_client(db)
    await change_client(db, admin, add_scopes=["admin"])
    async with each_process(served.url, PROCESSES) as processes:
        for each in processes.values():  # every process has the tokens cached now
            for client in (open_, confined):
                assert await meetings(each, client, users[client.name]) == 200
        for user_id in users.values():
            connection = await load_connection(db, user_id)
            revoked = await http.delete(f"/v1/connections/{connection.id}", headers=admin.auth)
            assert revoked.status_code == 200, revoked.text

        for slot, each in processes.items():

            async def refused(each: httpx.AsyncClient = each) -> bool:
                answers = {await meetings(each, c, users[c.name]) for c in (open_, confined)}
                return answers == {410}

            await eventually(refused, f"process {slot} refuses the revoked connections")
            assert await slot_of(each) == slot  # still the same process


async def test_a_disabled_client_is_refused_by_every_process(
    served: Ports, http: httpx.AsyncClient, db: Database, open_: Client, confined: Client
) -> None:
    users = await users_of(http, open_, confined)
    async with each_process(served.url, PROCESSES) as processes:
        for each in processes.values():  # every process has both keys cached now
            for client in (open_, confined):
                assert await meetings(each, client, users[client.name]) == 200
        await change_client(db, confined, disabled=True)

        for slot, each in processes.items():

            async def refused(each: httpx.AsyncClient = each) -> bool:
                return await meetings(each, confined, users[confined.name]) == 401

            await eventually(refused, f"process {slot} refuses the disabled client's key")
            assert await meetings(each, open_, users[open_.name]) == 200  # the other: unchanged
            assert await slot_of(each) == slot


async def test_a_changed_rule_reaches_every_process(
    served: Ports, http: httpx.AsyncClient, db: Database, open_: Client, confined: Client
) -> None:
    users = await users_of(http, open_, confined)
    async with each_process(served.url, PROCESSES) as processes:
        for each in processes.values():
            assert await meetings(each, open_, users[open_.name]) == 200
        await change_client(db, open_, remove_allow=["GET /**"], add_allow=["GET /profile"])

        for slot, each in processes.items():

            async def forbidden(each: httpx.AsyncClient = each) -> bool:
                return await meetings(each, open_, users[open_.name]) == 403

            await eventually(forbidden, f"process {slot} applies the new rule")
            # The other client is unchanged.
            assert await meetings(each, confined, users[confined.name]) == 200
            assert await slot_of(each) == slot


async def test_a_rate_limit_holds_over_every_process_together(
    served: Ports, http: httpx.AsyncClient, db: Database, open_: Client, confined: Client
) -> None:
    # Refilled too slowly to matter here: only the bursts are admitted, split among the processes.
    await change_client(db, open_, rate_limit=RateLimit.parse("1/min", burst=4))
    await change_client(db, confined, rate_limit=RateLimit.parse("1/min", burst=2))
    users = await users_of(http, open_, confined)
    admitted: dict[str, dict[int, int]] = {open_.name: {}, confined.name: {}}
    async with each_process(served.url, PROCESSES) as processes:
        for slot, each in processes.items():
            for client in (open_, confined):
                statuses = [await meetings(each, client, users[client.name]) for _ in range(6)]
                assert set(statuses) <= {200, 429}, statuses
                admitted[client.name][slot] = statuses.count(200)
            assert await slot_of(each) == slot
    assert admitted[open_.name] == {slot: 4 // PROCESSES for slot in processes}
    assert admitted[confined.name] == {slot: 2 // PROCESSES for slot in processes}


def served_count(exposition: str, route: str) -> float:
    for family in text_string_to_metric_families(exposition):
        if family.name == "gateway_http_requests":
            return sum(
                sample.value
                for sample in family.samples
                if sample.name == "gateway_http_requests_total"
                and sample.labels["route"] == route
                and sample.labels["status"] == "200"
            )
    return 0.0


async def test_a_scrape_counts_the_requests_of_every_process(served: Ports) -> None:
    async with each_process(served.url, PROCESSES) as processes:
        before = {
            slot: served_count((await each.get("/metrics")).text, "/healthz")
            for slot, each in processes.items()
        }
        assert len(set(before.values())) == 1  # the same total whichever process is scraped
        for slot, each in processes.items():
            for _ in range(3 + slot):  # a different number on each
                assert (await each.get("/healthz")).status_code == 200
        expected = before[1] + sum(3 + slot for slot in processes)
        for slot, each in processes.items():
            assert served_count((await each.get("/metrics")).text, "/healthz") == expected
            assert await slot_of(each) == slot
    async with one_connection(served.url) as anyone:
        scrape = (await anyone.get("/metrics")).text
    assert "gateway_connections{" in scrape  # the cluster's gauges are there too
