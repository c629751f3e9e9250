"""The encryption keys through the admin API: ``GET /v1/keys`` counts what each key seals, and
``POST /v1/keys/rotation`` re-seals under the active key, a bounded step at a time, only when
``confirm`` echoes the number of values to re-seal (else 428 ``confirmation_required`` and nothing
changes), audited with the caller. Only ``security`` (and the legacy ``admin``) may: lower roles
get 403 ``role_required``, service clients without a role 403 ``insufficient_scope``.

The gateway is ``rotating_gateway`` (conftest): the key ring ``old,new`` with ``new`` active;
connections are sealed under ``old`` beforehand, as before a key change."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from gateway.keys import rotation
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database
from gateway.models import AuditEvent
from gateway.tokens import grant
from tests.hostile.owner_fixtures import Client, error_code, make_client
from tests.keys.test_rotation import NEW, load_all, ring, seed

STATUS = "/v1/keys"
ROTATION = "/v1/keys/rotation"


async def test_a_step_needs_the_number_it_reseals_and_is_audited(
    api: httpx.AsyncClient, kdb: Database
) -> None:
    security = await make_client(kdb, ["security"])
    plaintext = await seed(kdb, ring("old"), 3)
    status = (await api.get(STATUS, headers=security.auth)).json()
    assert status["active_key"] == "new" and status["keys_not_in_ring"] == []
    assert status["values_by_key"]["old"] == 6  # each connection's access and refresh token
    count = status["to_reseal"]
    assert count == sum(n for key, n in status["values_by_key"].items() if key != "new")

    for body in ({}, {"confirm": count - 1}, {"confirm": count + 1}, {"confirm": str(count)}):
        refused = await api.post(ROTATION, json=body, headers=security.auth)
        expected = 400 if body.get("confirm") == str(count) else 428
        assert refused.status_code == expected, (body, refused.text)
        if expected == 428:
            assert error_code(refused) == "confirmation_required"
            assert refused.json()["error"]["details"] == {"affected": count}
    assert (await rotation.usage(kdb))["old"] == 6  # nothing re-sealed

    done = await api.post(ROTATION, json={"confirm": count}, headers=security.auth)
    assert done.status_code == 200, done.text
    step = done.json()
    assert step["resealed_values"] == count and step["complete"] is True
    assert step["unreadable_rows"] == 0 and step["status"]["to_reseal"] == 0
    new_only = KeyRing.parse(NEW)
    for connection in await load_all(kdb):
        opened = (
            grant.access_token(new_only, connection),
            grant.refresh_token(new_only, connection),
        )
        assert opened == plaintext[connection.id]
    async with kdb.transaction() as session:
        [entry] = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "keys.rotated", AuditEvent.actor == f"client:{security.name}"
            )
        )
    assert entry.details["confirmed"] == count and entry.details["left"] == 0
    again = await api.post(ROTATION, json={"confirm": count}, headers=security.auth)
    assert again.status_code == 428 and again.json()["error"]["details"] == {"affected": 0}


async def test_a_bounded_step_leaves_the_rest_for_the_next(kdb: Database) -> None:
    keys = ring("new")
    await seed(kdb, ring("old"), 5)
    steps: list[rotation.Report] = []
    while True:
        report = await rotation.rotate_step(kdb, keys, max_rows=2)
        steps.append(report)
        if report.complete:
            break
        assert len(steps) < 10
    assert [r.rotated for r in steps[:2]] == [2, 2]  # each stopped at its bound
    assert not steps[0].complete
    assert sum(r.rotated for r in steps) == 5
    assert "old" not in await rotation.usage(kdb)


async def roles(db: Database) -> dict[str, Client]:
    return {scope: await make_client(db, [scope]) for scope in ("viewer", "support", "operator")}


async def test_below_security_the_keys_are_refused(api: httpx.AsyncClient, kdb: Database) -> None:
    await seed(kdb, ring("old"), 1)
    for scope, caller in (await roles(kdb)).items():
        for method, path in (("GET", STATUS), ("POST", ROTATION)):
            answer = await api.request(method, path, json={"confirm": 2}, headers=caller.auth)
            assert answer.status_code == 403, (scope, path)
            assert answer.json()["error"]["details"] == {
                "required": "security",
                "permission": "manage_keys",
            }
            assert error_code(answer) == "role_required"
    assert (await rotation.usage(kdb))["old"] == 2


async def test_service_clients_without_a_role_are_refused(
    api: httpx.AsyncClient, kdb: Database
) -> None:
    await seed(kdb, ring("old"), 1)
    confined = await make_client(kdb, ["connect", "proxy"], own_users_only=True)
    open_ = await make_client(kdb, ["connect", "proxy"])
    for caller in (confined, open_):
        for method, path in (("GET", STATUS), ("POST", ROTATION)):
            answer = await api.request(method, path, json={"confirm": 2}, headers=caller.auth)
            assert answer.status_code == 403 and error_code(answer) == "insufficient_scope"
    nobody = await api.post(ROTATION, json={"confirm": 2})
    assert nobody.status_code == 401
    assert (await rotation.usage(kdb))["old"] == 2


async def test_a_legacy_admin_key_rotates_as_security(
    api: httpx.AsyncClient, kdb: Database
) -> None:
    admin = await make_client(kdb, ["admin"])
    await seed(kdb, ring("old"), 1)
    count = (await api.get(STATUS, headers=admin.auth)).json()["to_reseal"]
    done = await api.post(ROTATION, json={"confirm": count}, headers=admin.auth)
    assert done.status_code == 200 and done.json()["status"]["to_reseal"] == 0


async def test_values_that_do_not_open_do_not_hold_a_step_back(kdb: Database) -> None:
    gone = KeyRing.parse(generate_key_entry("gone"))
    await seed(kdb, gone, 1)
    await seed(kdb, ring("old"), 2)
    steps: list[rotation.Report] = []
    while not steps or not steps[-1].complete:
        steps.append(await rotation.rotate_step(kdb, ring("new"), max_rows=2))
        assert len(steps) < 5
    assert sum(r.rotated for r in steps) == 2 and steps[-1].unreadable_rows() <= 1
    assert any(r.unreadable_rows() == 1 for r in steps)
    assert await rotation.usage(kdb) == {"new": 4, "gone": 2}
