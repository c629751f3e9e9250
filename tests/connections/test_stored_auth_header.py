"""An API key goes where the provider's ``auth_header`` says, as an access token does: in a query
parameter (a caller's parameter of that name is dropped, and the access log never shows its
value) or bare in a header of its own. The verification request sends it the same way."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.connections.stored_fixtures import API_KEY, gw, keyed_stack, user
from tests.hostile.owner_fixtures import Client, Clients, clients

__all__ = ["clients", "gw", "keyed_stack"]  # fixtures

CALLERS_KEY = "sk_callers_own_" + "x" * 12


async def stored(gw: httpx.AsyncClient, clients: Clients, provider: str, owner: Client) -> str:
    """A verified key of ``provider`` owned by ``owner``: its connection's id."""
    body = {"user_id": user(), "provider": provider, "api_key": API_KEY, "owner": owner.name}
    response = await gw.post(
        "/v1/connections/credentials", json=body, headers=clients.operator.auth
    )
    assert response.status_code == 201, response.text  # verified with the key in the query
    connection_id: str = response.json()["id"]
    return connection_id


async def test_the_key_goes_in_the_query_parameter_and_a_callers_own_is_dropped(
    gw: httpx.AsyncClient, clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for owner in (clients.open_, clients.confined):
        connection_id = await stored(gw, clients, "keyed-query", owner)
        for query in ("", f"?api_key={CALLERS_KEY}&x=1", f"?API_Key={CALLERS_KEY}", "?api%5Fkey=1"):
            called = await gw.get(
                f"/proxy/connections/{connection_id}/items/a{query}", headers=owner.auth
            )
            # The sandbox answers 400 to a second api_key, 401 to the caller's own alone.
            assert called.status_code == 200, (query, called.text)
            assert called.json()["scheme"] == "query"
            assert API_KEY not in called.text and API_KEY not in str(called.headers)
    # httpx's own request lines (the tests' client, the verification request) are not logged by a
    # configured gateway (``tests/kit/test_logs.py``); everything else is looked at.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "api_key=***" in logged
    assert API_KEY not in logged and CALLERS_KEY not in logged


async def test_the_key_goes_bare_in_the_header_the_profile_names(
    gw: httpx.AsyncClient, clients: Clients
) -> None:
    for owner in (clients.open_, clients.confined):
        connection_id = await stored(gw, clients, "keyed-named", owner)
        called = await gw.get(
            f"/proxy/connections/{connection_id}/me",
            headers={**owner.auth, "X-Api-Key": CALLERS_KEY},
        )
        assert called.status_code == 200, called.text
        assert called.json()["scheme"] == "header"


async def test_another_clients_call_with_the_key_in_the_query_is_not_found(
    gw: httpx.AsyncClient, clients: Clients
) -> None:
    connection_id = await stored(gw, clients, "keyed-query", clients.confined)
    hidden = await gw.get(f"/proxy/connections/{connection_id}/me", headers=clients.open_.auth)
    assert hidden.status_code == 404, hidden.text
    assert API_KEY not in hidden.text
