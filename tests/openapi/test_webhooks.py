"""Contio's webhook endpoint answers as the document says, for signed and unsigned bodies."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from gateway.kit.db import Database
from gateway.webhooks.contio import signature
from tests.e2e.flows import connect_new_user, load_connection
from tests.openapi.conformance import conforms, error_code
from tests.openapi.conftest import WEBHOOK_SECRET

WEBHOOK = "/webhooks/contio"


def event(**fields: Any) -> dict[str, Any]:
    return {
        "event_type": "user.connection.revoked",
        "event_id": uuid.uuid4().hex,
        "timestamp": int(time.time()),
        "partner_app_id": "openapi",
        "data": {},
        **fields,
    }


async def deliver(http: httpx.AsyncClient, body: bytes, signed: bool = True) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-Contio-Signature"] = signature(WEBHOOK_SECRET, body)
    return conforms(await http.post(WEBHOOK, content=body, headers=headers), WEBHOOK)


async def test_a_revocation_is_processed_once_then_a_duplicate(
    gateway_http: httpx.AsyncClient, http: httpx.AsyncClient, key: str, db: Database
) -> None:
    connection = await load_connection(db, await connect_new_user(http, key))
    body = json.dumps(event(for_user={"id": connection.subject})).encode()
    assert (await deliver(gateway_http, body)).json() == {"status": "processed"}
    assert (await deliver(gateway_http, body)).json() == {"status": "duplicate"}


async def test_another_event_type_is_ignored(gateway_http: httpx.AsyncClient) -> None:
    body = json.dumps(event(event_type="meeting.created")).encode()
    assert (await deliver(gateway_http, body)).json() == {"status": "ignored"}


async def test_an_unsigned_body_is_401(gateway_http: httpx.AsyncClient) -> None:
    response = await deliver(gateway_http, json.dumps(event()).encode(), signed=False)
    assert error_code(response) == "invalid_signature"


async def test_a_signed_non_event_is_400_invalid_event(gateway_http: httpx.AsyncClient) -> None:
    assert error_code(await deliver(gateway_http, b"[]")) == "invalid_event"


async def test_an_old_event_is_400_stale_event(gateway_http: httpx.AsyncClient) -> None:
    body = json.dumps(event(timestamp=int(time.time()) - 86400)).encode()
    assert error_code(await deliver(gateway_http, body)) == "stale_event"


async def test_a_body_over_a_mebibyte_is_413(gateway_http: httpx.AsyncClient) -> None:
    body = b"{" + b" " * (1024 * 1024) + b"}"
    assert error_code(await deliver(gateway_http, body)) == "payload_too_large"


async def test_a_nul_in_the_event_id_is_400_not_500(gateway_http: httpx.AsyncClient) -> None:
    # Regression: storing the event id failed in PostgreSQL and Contio would retry a 500 forever.
    body = json.dumps(event(event_id="a\x00b")).encode()
    assert error_code(await deliver(gateway_http, body)) == "invalid_event"


async def test_a_timestamp_no_clock_can_name_is_400_not_500(
    gateway_http: httpx.AsyncClient,
) -> None:
    # Regression: datetime.fromtimestamp raised OverflowError (1e300) or ValueError (NaN).
    for timestamp in (b"1e300", b"NaN", b"-Infinity"):
        body = (
            json.dumps(event(timestamp=0))
            .encode()
            .replace(b'"timestamp": 0', b'"timestamp": ' + timestamp)
        )
        assert error_code(await deliver(gateway_http, body)) == "invalid_event", timestamp


async def test_a_body_nested_too_deeply_is_400_not_500(gateway_http: httpx.AsyncClient) -> None:
    # Regression: json.loads raised RecursionError, which no handler expected.
    assert error_code(await deliver(gateway_http, b"[" * 5000 + b"]" * 5000)) == "invalid_event"


async def test_an_event_for_nobody_is_listed_as_unmatched_as_documented(
    gateway_http: httpx.AsyncClient, api: httpx.AsyncClient, proxy_only_key: str
) -> None:
    unmatched = "/v1/events/unmatched"
    sent = event(event_type="meeting.updated", for_user={"id": str(uuid.uuid4())})
    assert (await deliver(gateway_http, json.dumps(sent).encode())).json() == {"status": "ignored"}
    listed = conforms(await api.get(unmatched, params={"type": "meeting.updated"}), unmatched)
    assert sent["event_id"] in [item["event_id"] for item in listed.json()["items"]]
    assert error_code(conforms(await api.get(unmatched, params={"type": ""}), unmatched)) == (
        "invalid_type"
    )
    refused = await gateway_http.get(
        unmatched, headers={"Authorization": f"Bearer {proxy_only_key}"}
    )
    assert error_code(conforms(refused, unmatched)) == "insufficient_scope"
