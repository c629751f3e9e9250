"""A bulk revocation against what else happens meanwhile, on the shared stack (each test selects its
own connections by a label): a batch that fails leaves the batches before it revoked and the rest
untouched, and asking again with the new count finishes; a row another writer holds is skipped,
not waited for; a refresh in flight when its connection is revoked cannot bring it back."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, select

from gateway.connections.bulk_revocation import BATCH_SIZE
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus, DelegatedKey, PendingRevocation
from gateway.providers.registry import build_registry
from gateway.providers.spender import OPERATOR
from gateway.tokens.errors import ConnectionRevoked
from gateway.tokens.refresher import Refresher
from tests.e2e.flows import proxy_get
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Client, error_code, make_client
from tests.operators.bulk_fixtures import (
    Seeded,
    drain,
    pending_count,
    refused,
    seed,
    upstream_revoker,
)

REVOCATIONS = "/v1/connections/revocations"


@pytest.fixture(scope="module")
def keys(stack: Stack) -> KeyRing:
    assert stack.settings.encryption_keys is not None
    return KeyRing.parse(stack.settings.encryption_keys.get_secret_value())


async def owners(db: Database) -> list[tuple[Client, bool]]:
    service = ["connect", "proxy"]
    confined = await make_client(db, service, own_users_only=True)
    return [(confined, True), (await make_client(db, service), False)]


async def labelled(
    db: Database, keys: KeyRing, stack: Stack, count: int
) -> tuple[dict[str, object], list[Seeded]]:
    """``count`` connections of a label of their own, and the selector naming them."""
    batch = uuid.uuid4().hex[:10]
    seeded = await seed(db, keys, stack.sandbox.url, count, await owners(db), {"bulk": batch})
    return {"provider": "contio", "label": [f"bulk={batch}"]}, seeded


async def status_of(db: Database, seeded: list[Seeded]) -> list[ConnectionStatus]:
    async with db.transaction() as session:
        found = dict(
            (
                await session.execute(
                    select(Connection.id, Connection.status).where(
                        Connection.id.in_([one.id for one in seeded])
                    )
                )
            ).all()
        )
    return [found[one.id] for one in seeded]


async def test_a_failed_batch_leaves_whole_batches_done_and_a_retry_finishes(
    http: httpx.AsyncClient, db: Database, keys: KeyRing, stack: Stack
) -> None:
    operator = await make_client(db, ["operator"])
    count = 2 * BATCH_SIZE + 50
    selector, seeded = await labelled(db, keys, stack, count)
    in_second = seeded[BATCH_SIZE + 10]
    async with db.transaction() as session:
        session.add(
            DelegatedKey(
                connection_id=in_second.id,
                key_prefix="gwd_bulk",
                key_hash=uuid.uuid4().hex * 2,
                allow_rules=["GET /**"],
                issued_by_client_id=in_second.owner.id,
                issued_by=f"client:{in_second.owner.name}",
                expires_at=utcnow() + timedelta(minutes=10),
            )
        )

    # Another transaction holds the key the second batch must revoke, past the batch's lock
    # timeout: PostgreSQL fails that batch.
    async with db.transaction() as holding:
        await holding.execute(
            select(DelegatedKey).where(DelegatedKey.connection_id == in_second.id).with_for_update()
        )
        failed = await http.post(
            REVOCATIONS, json={**selector, "confirm": count}, headers=operator.auth
        )

    assert failed.status_code == 503, failed.text
    assert error_code(failed) == "revocation_interrupted"
    assert failed.headers["Retry-After"] == "1"
    assert failed.json()["error"]["details"] == {"revoked": BATCH_SIZE, "confirmed": count}
    after = await status_of(db, seeded)
    assert set(after[:BATCH_SIZE]) == {ConnectionStatus.REVOKED}
    assert set(after[BATCH_SIZE:]) == {ConnectionStatus.ACTIVE}
    assert await pending_count(db, [one.id for one in seeded]) == BATCH_SIZE
    done, untouched = seeded[0], seeded[-1]
    assert (await refused(http, done)).status_code == 410
    assert (
        await proxy_get(http, untouched.owner.key, untouched.user_id, "/meetings")
    ).status_code == 200

    asked = await http.post(REVOCATIONS, json=selector, headers=operator.auth)
    left = count - BATCH_SIZE
    assert asked.status_code == 428 and asked.json()["error"]["details"] == {"affected": left}
    finished = await http.post(
        REVOCATIONS, json={**selector, "confirm": left}, headers=operator.auth
    )
    assert finished.status_code == 200, finished.text
    assert (finished.json()["revoked"], finished.json()["skipped"]) == (left, 0)
    assert set(await status_of(db, seeded)) == {ConnectionStatus.REVOKED}
    async with db.transaction() as session:
        key = await session.scalar(
            select(DelegatedKey).where(DelegatedKey.connection_id == in_second.id)
        )
    assert key is not None and key.revoked_at is not None
    assert await pending_count(db, [one.id for one in seeded]) == count
    await forget_queue(db, seeded)


async def forget_queue(db: Database, seeded: list[Seeded]) -> None:
    """Drop what a test queued for the provider, so that other tests' drains need not work
    through it (this test's grants then stay live at the sandbox, which nothing else uses)."""
    async with db.transaction() as session:
        await session.execute(
            delete(PendingRevocation).where(
                PendingRevocation.connection_id.in_([one.id for one in seeded])
            )
        )


async def test_a_row_another_writer_holds_is_skipped_and_revoked_by_asking_again(
    http: httpx.AsyncClient, db: Database, keys: KeyRing, stack: Stack
) -> None:
    operator = await make_client(db, ["operator"])
    selector, seeded = await labelled(db, keys, stack, 4)
    held = seeded[1]

    async with db.transaction() as holding:
        await holding.execute(select(Connection).where(Connection.id == held.id).with_for_update())
        answer = await http.post(
            REVOCATIONS, json={**selector, "confirm": 4}, headers=operator.auth
        )

    assert answer.status_code == 200, answer.text
    assert (answer.json()["revoked"], answer.json()["skipped"]) == (3, 1)
    assert str(held.id) not in {item["connection_id"] for item in answer.json()["items"]}
    assert await status_of(db, seeded) == [
        ConnectionStatus.REVOKED,
        ConnectionStatus.ACTIVE,
        ConnectionStatus.REVOKED,
        ConnectionStatus.REVOKED,
    ]
    again = await http.post(REVOCATIONS, json={**selector, "confirm": 1}, headers=operator.auth)
    assert again.status_code == 200 and again.json()["revoked"] == 1
    assert set(await status_of(db, seeded)) == {ConnectionStatus.REVOKED}
    await forget_queue(db, seeded)


async def test_a_refresh_in_flight_does_not_bring_a_revoked_connection_back(
    http: httpx.AsyncClient, db: Database, keys: KeyRing, stack: Stack
) -> None:
    operator = await make_client(db, ["operator"])
    selector, seeded = await labelled(db, keys, stack, 3)
    refreshed = seeded[0]
    store = stack.sandbox_store
    issued_before = set(store.issued_tokens())
    answers: list[httpx.Response] = []

    async def revoke_once_the_provider_has_answered(response: httpx.Response) -> None:
        # The provider has rotated the tokens; the refresher has not stored them yet.
        if response.request.url.path == "/oauth2/token" and not answers:
            answers.append(
                await http.post(REVOCATIONS, json={**selector, "confirm": 3}, headers=operator.auth)
            )

    hooks = {"response": [revoke_once_the_provider_has_answered]}
    async with httpx.AsyncClient(timeout=10, event_hooks=hooks) as provider_http:
        refresher = Refresher(
            db, keys, build_registry(stack.settings, provider_http), stack.settings
        )
        with pytest.raises(ConnectionRevoked):
            await refresher.refresh(refreshed.id, spender=OPERATOR)

    [revoked] = answers
    assert revoked.status_code == 200 and revoked.json()["revoked"] == 3, revoked.text
    async with db.transaction() as session:
        after = await session.get(Connection, refreshed.id, populate_existing=True)
    assert after is not None and after.status is ConnectionStatus.REVOKED
    assert (after.access_token, after.refresh_token) == (None, None)
    assert (await refused(http, refreshed)).status_code == 410
    # The bulk queued the grant's old tokens, the refresh the new ones it was given.
    assert await pending_count(db, [refreshed.id]) == 2
    given = set(store.issued_tokens()) - issued_before  # the refresh's new tokens
    assert given and all(store.find_live(token) is not None for token in given)
    async with httpx.AsyncClient(timeout=10) as provider_http:
        revoker = upstream_revoker(db, keys, stack.settings, provider_http)

        async def drained() -> bool:
            return await pending_count(db, [one.id for one in seeded]) == 0

        assert await drain(revoker, drained)
    assert all(store.find_live(token) is None for token in given)
    assert store.find_live(refreshed.access_token) is None
