"""Refreshing when the provider does not rotate refresh tokens.

The sandbox always rotates, so this one path is driven through httpx.MockTransport.
"""

from __future__ import annotations

import httpx

from gateway.providers.spender import OPERATOR
from tests.providers.factories import mock_client


async def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert b"grant_type=refresh_token" in request.content
        return httpx.Response(200, json={"access_token": "new-at", "expires_in": 60})

    client, http = mock_client(handler)
    async with http:
        tokens = await client.refresh("the-old-refresh-token", spender=OPERATOR)
    assert tokens.access_token.get_secret_value() == "new-at"
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value() == "the-old-refresh-token"
