"""Driving the provisioning flow over real HTTP: the service's calls and the sandbox's outbox."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select, update

from gateway.kit.db import Database
from gateway.models import Provisioning

ADMIN_KEY = {"X-API-Key": "sandbox-admin-key"}


def new_user() -> tuple[str, str]:
    """A fresh (user id, email) pair."""
    user_id = f"prov-{uuid.uuid4().hex[:10]}"
    return user_id, f"{user_id}@example.com"


def bearer(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


async def start(
    gw: httpx.AsyncClient, key: str, *, idempotency_key: str | None = None, **body: Any
) -> httpx.Response:
    headers = bearer(key)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return await gw.post("/v1/provisioning", json=body, headers=headers)


async def started(gw: httpx.AsyncClient, key: str, **body: Any) -> dict[str, Any]:
    response = await start(gw, key, **body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def verify(
    gw: httpx.AsyncClient, key: str, provisioning_id: str, code: str
) -> httpx.Response:
    return await gw.post(
        f"/v1/provisioning/{provisioning_id}/verify", json={"code": code}, headers=bearer(key)
    )


async def codes(sandbox: httpx.AsyncClient, email: str) -> list[str]:
    """Every code the sandbox "mailed" to ``email``, oldest first."""
    response = await sandbox.get("/_sandbox/outbox", params={"email": email})
    assert response.status_code == 200, response.text
    return [message["code"] for message in response.json()["messages"]]


async def latest_code(sandbox: httpx.AsyncClient, email: str) -> str:
    sent = await codes(sandbox, email)
    assert sent, f"the sandbox sent no code to {email}"
    return sent[-1]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def provision(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, **body: Any
) -> dict[str, Any]:
    """The whole flow through the API; returns the verify answer."""
    begun = await started(gw, key, **body)
    response = await verify(gw, key, begun["id"], await latest_code(sandbox, body["email"]))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def shared_workspace(sandbox: httpx.AsyncClient, name: str = "Acme Team") -> dict[str, Any]:
    """One of the partner's shared workspaces, as the sandbox's admin API lists it."""
    response = await sandbox.get("/v1/partner/admin/workspaces", headers=ADMIN_KEY)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = next(w for w in response.json()["items"] if w["workspace_name"] == name)
    return found


async def executions(sandbox: httpx.AsyncClient, route: str) -> int:
    """How often the sandbox executed ``route`` (``"POST /auth/initiate"``) since its start."""
    count: int = (await sandbox.get("/_sandbox/executions")).json().get(route, 0)
    return count


async def load(db: Database, provisioning_id: str) -> Provisioning:
    async with db.transaction() as session:
        found = await session.scalar(
            select(Provisioning).where(Provisioning.id == uuid.UUID(provisioning_id))
        )
    assert found is not None
    return found


async def set_columns(db: Database, provisioning_id: str, **values: Any) -> None:
    """Rewrite stored columns: how a test moves the gateway's clock (expiry) or fakes a lease."""
    async with db.transaction() as session:
        await session.execute(
            update(Provisioning)
            .where(Provisioning.id == uuid.UUID(provisioning_id))
            .values(**values)
        )


def error_code(response: httpx.Response) -> str:
    assert response.headers.get("Gateway-Error") == "1", response.text
    code: str = response.json()["error"]["code"]
    return code
