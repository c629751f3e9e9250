"""``POST /v1/connections/import`` with the owner's annotations (metadata, labels, external ids)
and the access token's expiry given as ``issued_at`` + ``expires_in``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.connections.importing import ImportRequest
from tests.admin.test_import_api import body_for, broker_grant, new_user
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Clients, clients, error_code

__all__ = ["clients"]  # fixtures

IMPORT = "/v1/connections/import"


def token_requests(stack: Stack) -> int:
    count: int = stack.sandbox_store.counters.snapshot()["token_requests"]
    return count


async def test_an_import_brings_metadata_labels_and_external_ids(
    http: httpx.AsyncClient, stack: Stack, clients: Clients
) -> None:
    user_id = new_user()
    extras = {
        "metadata": {"source": "old-broker", "seats": 3},
        "labels": {"team": "sales"},
        "external_ids": ["crm-9", "crm-1"],
        "owner": clients.open_.name,
    }
    grant = broker_grant(stack, f"{user_id}@example.com")

    answer = await http.post(
        IMPORT, json=body_for(user_id, grant, **extras), headers=clients.operator.auth
    )

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["metadata"] == extras["metadata"] and body["labels"] == {"team": "sales"}
    assert body["external_ids"] == ["crm-1", "crm-9"] and body["owner"] == clients.open_.name
    shown = await http.get(f"/v1/connections/{body['id']}", headers=clients.open_.auth)
    assert shown.json()["external_ids"] == ["crm-1", "crm-9"]

    # Another user's import naming one of them for the same owner is refused before the provider
    # is asked anything.
    other = new_user()
    calls = token_requests(stack)
    clash = await http.post(
        IMPORT,
        json=body_for(other, broker_grant(stack, f"{other}@example.com"), **extras),
        headers=clients.operator.auth,
    )
    assert (clash.status_code, error_code(clash)) == (409, "external_id_taken")
    assert token_requests(stack) == calls


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"issued_at": "2099-01-01T00:00:00Z"}, "future"),
        ({"issued_at": "2026-01-01T00:00:00Z", "expires_in": None}, "needs expires_in"),
        ({"expires_at": "2099-01-01T00:00:00Z"}, "not both"),
        ({"labels": {"bad key": "x"}}, "label key"),
        ({"external_ids": ["a", "a"]}, "twice"),
        ({"metadata": {"x": "y" * 17000}}, "16384 bytes"),
    ],
)
async def test_a_bad_expiry_or_annotation_is_refused(
    http: httpx.AsyncClient, stack: Stack, clients: Clients, extra: dict[str, object], problem: str
) -> None:
    user_id = new_user()
    body = {**body_for(user_id, broker_grant(stack, f"{user_id}@example.com")), **extra}
    if body.get("expires_in") is None:
        body.pop("expires_in")

    answer = await http.post(IMPORT, json=body, headers=clients.operator.auth)

    assert answer.status_code == 400, answer.text
    assert error_code(answer) == "validation_error"
    assert problem in answer.text


async def test_issued_at_with_expires_in_is_accepted(
    http: httpx.AsyncClient, stack: Stack, clients: Clients
) -> None:
    user_id = new_user()
    issued_at = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    grant = broker_grant(stack, f"{user_id}@example.com")

    answer = await http.post(
        IMPORT,
        json=body_for(user_id, grant, issued_at=issued_at, expires_in=3600),
        headers=clients.operator.auth,
    )

    assert answer.status_code == 201, answer.text


def test_expires_in_counts_from_issued_at() -> None:
    now = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
    base = {"user_id": "u", "access_token": "a", "refresh_token": "r"}

    def left(**fields: object) -> int | None:
        return ImportRequest.model_validate({**base, **fields}).seconds_left(now)

    assert left(expires_in=3600, issued_at="2026-01-06T11:50:00Z") == 3000
    assert left(expires_in=60, issued_at="2026-01-06T11:00:00Z") == 1
    assert left(expires_in=3600) == 3600
    assert left(expires_at="2026-01-06T12:30:00Z") == 1800
    assert left() is None
