"""The provisioning API for services (scope ``connect``): start one, follow it, verify its code."""

from __future__ import annotations

import uuid
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.auth import require_client
from gateway.clients.store import Principal
from gateway.connections import ownership
from gateway.exceptions import GATEWAY_ERROR_HEADER, GatewayError, error_response
from gateway.kit.clock import utcnow
from gateway.kit.request_body import parse_json
from gateway.provisioning import idempotency, schemas, service, store
from gateway.provisioning.errors import ProvisioningNotFound
from gateway.provisioning.schemas import ProvisioningRequest, VerifyRequest
from gateway.resources import Resources, resources

OPERATION = "POST /v1/provisioning"
# The answers carry a capability URL or a connection: no cache may keep them.
NO_STORE = {"Cache-Control": "no-store"}


def verify_url(res: Resources, provisioning_id: uuid.UUID, token: str) -> str:
    return f"{res.settings.public_url}/provision/{provisioning_id}?token={token}"


def provisioning_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["provisioning_id"])
    except ValueError as exc:
        raise ProvisioningNotFound() from exc


async def create_provisioning(request: Request) -> Response:
    """``POST /v1/provisioning``: the provider mails the user a code; 201 with the verify URL."""
    principal = await require_client(request, "connect")
    key = idempotency.key_of(request)
    body = await parse_json(request, ProvisioningRequest)
    res = resources(request)
    if key is None:
        return await _create(res, principal, body, None)
    claimed = await idempotency.claim(
        res.db,
        res.keys,
        client_id=principal.client_id,
        operation=OPERATION,
        key=key,
        request_hash=idempotency.fingerprint(body.model_dump(mode="json")),
        lease=timedelta(seconds=res.settings.provisioning_lease_seconds),
    )
    if isinstance(claimed, idempotency.Replay):
        return _replay(claimed)
    try:
        return await _create(res, principal, body, claimed)
    except GatewayError as exc:
        if exc.status_code >= 500:  # transient: the retry must run for real
            await idempotency.release(res.db, claimed)
        else:
            async with res.db.transaction() as session:
                answer = bytes(error_response(exc).body)
                await idempotency.complete(session, res.keys, claimed, exc.status_code, answer)
        raise
    except BaseException:
        await idempotency.release(res.db, claimed)
        raise


async def _create(
    res: Resources,
    principal: Principal,
    body: ProvisioningRequest,
    claimed: idempotency.Claim | None,
) -> Response:
    async with res.db.transaction() as session:
        await ownership.check_may_connect(
            session,
            ownership.Actor.of(principal),
            body.user_id,
            res.providers.get(body.provider).name,
            additional=body.additional,
        )
    new = await service.initiate(res, principal.client_id, body)
    async with res.db.transaction() as session:
        provisioning, token = await store.create(session, res.keys, new)
        content = schemas.created(provisioning, verify_url(res, provisioning.id, token))
        response = JSONResponse(content, status_code=201, headers=NO_STORE)
        if claimed is not None:
            await idempotency.complete(session, res.keys, claimed, 201, bytes(response.body))
    return response


def _replay(replay: idempotency.Replay) -> Response:
    headers = {idempotency.REPLAYED_HEADER: "true", **NO_STORE}
    if replay.status_code >= 400:
        headers[GATEWAY_ERROR_HEADER] = "1"
    return Response(replay.body, replay.status_code, headers=headers, media_type="application/json")


async def get_provisioning(request: Request) -> Response:
    """``GET /v1/provisioning/{id}``: where it stands (only for the client that started it)."""
    principal = await require_client(request, "connect")
    wanted = provisioning_id(request)
    res = resources(request)
    found = await res.db.read(
        lambda session: store.find(session, wanted, store.Access(client_id=principal.client_id))
    )
    if found is None:
        raise ProvisioningNotFound()
    status, failure_code = service.state(found, utcnow())
    return JSONResponse(schemas.view(found, status, failure_code), headers=NO_STORE)


async def verify_provisioning(request: Request) -> Response:
    """``POST /v1/provisioning/{id}/verify`` with ``{code}``: 200 once the user is connected."""
    principal = await require_client(request, "connect")
    wanted = provisioning_id(request)
    body = await parse_json(request, VerifyRequest)
    res = resources(request)
    access = store.Access(client_id=principal.client_id)
    provisioning = await service.verify(res, wanted, body.code, access)
    return JSONResponse(schemas.connected(provisioning), headers=NO_STORE)
