"""A connection's delegated keys in the console: issue one (shown once, on the page the issue
redirects to), and revoke one.

Both go through the admin API's code (``access.changed_by``, ``connections.delegated_keys``) as the
signed-in operator, audited under their name. Like the CLI, an operator issues a key on behalf of a
client, by default the connection's owner: the key carries that client's proxy power (its allow
rules, or fewer), never the operator's.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from gateway.clients.store import client_names
from gateway.connections import access, delegated_keys, queries
from gateway.connections.delegated_keys import DelegatedKeyNotFound
from gateway.connections.errors import ConnectionNotFound
from gateway.console import shown_once
from gateway.console.connections import connection_page
from gateway.console.forms import KeyForm
from gateway.console.guard import Operator, operator_page
from gateway.console.outcomes import LIST, done_url, refused
from gateway.console.render import page, see_other
from gateway.exceptions import GatewayError
from gateway.kit import query
from gateway.models import DelegatedKey
from gateway.resources import resources


def issued_path(connection_id: uuid.UUID, key_id: uuid.UUID) -> str:
    return f"{LIST}/{connection_id}/keys/{key_id}"


@operator_page
async def issue(request: Request, operator: Operator) -> Response:
    res = resources(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    form = KeyForm.submitted(await request.form())
    try:
        wanted = form.request()
        async with res.db.transaction() as session:
            connection = await access.changed_by(session, operator.acting, connection_id)
            issuer = await delegated_keys.client_issuer(session, connection, form.client or None)
            key, issued = await delegated_keys.issue(
                session,
                connection,
                issuer,
                ttl_seconds=wanted.ttl_seconds,
                allow=wanted.allow,
                actor=operator.actor,
            )
    except ConnectionNotFound:
        raise
    except GatewayError as exc:
        return await connection_page(
            request,
            operator,
            connection_id,
            refused("key_not_issued", "No key issued", exc),
            key_form=form,
            status_code=exc.status_code,
        )
    path = issued_path(connection_id, key.id)
    response = see_other(path)
    shown_once.keep(
        response,
        issued.key,
        path=path,
        session=operator.session,
        keys=res.keys,
        settings=res.settings,
    )
    return response


@operator_page
async def show_issued(request: Request, operator: Operator) -> Response:
    """The key just issued, this once; afterwards only what the list shows."""
    res = resources(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    key_id = _key_id(connection_id, request.path_params["key_id"])
    async with res.db.transaction() as session:
        connection = await access.seen(session, operator.acting, connection_id)
        key = await session.get(DelegatedKey, key_id)
        if key is None or key.connection_id != connection_id:
            raise _no_key(connection_id, key_id)
        names = await client_names(session, [key.issued_by_client_id])
    path = issued_path(connection_id, key_id)
    secret = shown_once.take(request, path=path, session=operator.session, keys=res.keys)
    response = page(
        "delegated_key.html",
        operator=operator,
        connection_id=str(connection_id),
        user_id=connection.user_id,
        key=delegated_keys.key_json(key, names),
        secret=secret,
    )
    shown_once.forget(response, path=path, settings=res.settings)
    return response


@operator_page
async def revoke(request: Request, operator: Operator) -> Response:
    connection_id = queries.parse_id(request.path_params["connection_id"])
    async with resources(request).db.transaction() as session:
        await access.changed_by(session, operator.acting, connection_id)
        await delegated_keys.revoke(
            session, connection_id, request.path_params["key_id"], actor=operator.actor
        )
    return see_other(done_url(connection_id, "key_revoked"))


def _key_id(connection_id: uuid.UUID, text: str) -> uuid.UUID:
    parsed = query.id_in_path(text)
    if parsed is None:
        raise _no_key(connection_id, text[:64])
    return parsed


def _no_key(connection_id: uuid.UUID, key_id: object) -> DelegatedKeyNotFound:
    return DelegatedKeyNotFound(
        f"the connection has no delegated key with the id {str(key_id)!r}",
        details={"connection_id": str(connection_id), "key_id": str(key_id)},
    )
