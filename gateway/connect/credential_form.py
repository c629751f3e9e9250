"""The hosted credential form: where a user types their API key (or user and password, or header
value) for a provider that takes stored credentials, on the gateway's public listener, so the key
never passes through the internal service that opened the connect session.

``GET /connect?token=...`` shows the form for such a provider (``page``); the form posts the fields
*and the token* to ``POST /connect/credential``. The token is the form's only credential and
travels in the form body, never in a cookie, so another site cannot make a browser post for the
user (no CSRF); the pages carry the gateway's CSP, no-store, no-referrer and no-framing headers
(``gateway.pages``), and the body is capped. The credential is verified with the provider before
the session is used; a refused one shows the form again (nothing is stored), and the session stays
usable until it expires or a credential is stored. The connection is the connect session client's,
in its space, under the same checks as a connect (``ownership.check_may_connect``).
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.audit import store as audit
from gateway.connect import connect_sessions
from gateway.connect.flow_errors import ConnectFailure, usable_by_token, used
from gateway.connect.return_urls import with_params
from gateway.connections import ownership
from gateway.connections.errors import ConnectionOwnedByOtherClient, UserNotAllowed
from gateway.connections.stored_credentials import FIELDS, MAX_SECRET_LENGTH, keep
from gateway.events.outbox import connection_data, emit
from gateway.exceptions import GatewayError
from gateway.kit.request_body import read_body
from gateway.models import ConnectSession
from gateway.pages import render
from gateway.providers.client import OAuthClient
from gateway.providers.credential_profile import (
    CredentialProfile,
    CredentialRejected,
    StoredCredential,
    verify,
)
from gateway.providers.errors import ProviderUnavailable
from gateway.resources import Resources, resources

PATH = "/connect/credential"
MAX_FORM_BYTES = 16384
LABELS = {
    "api_key": "API key",
    "username": "User name",
    "password": "Password",
    "value": "Value",
}


def page(
    res: Resources,
    provider: OAuthClient,
    token: str,
    *,
    message: str | None = None,
    code: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The form for ``provider``'s kind of credential."""
    assert provider.credentials is not None
    kind = provider.credentials.kind
    return render(
        "connect_credential.html",
        status_code=status,
        action=f"{res.settings.public_url}{PATH}",
        token=token,
        provider=provider.name,
        fields=[(name, LABELS[name], name != "username") for name in FIELDS[kind]],
        message=message,
        code=code,
    )


async def submit(request: Request) -> Response:
    """``POST /connect/credential`` with ``token`` and the credential's fields."""
    res = resources(request)
    raw = await read_body(request, MAX_FORM_BYTES)
    fields = dict(parse_qsl(raw.decode("utf-8", "replace")))
    token = fields.get("token", "")
    async with res.db.transaction() as session:
        connect_session = await usable_by_token(session, token)
    provider = res.providers.get(connect_session.provider)
    profile = provider.credentials
    if profile is None:
        raise ConnectFailure("invalid_connect_token", "This connect link is not valid.")
    credential = _credential(profile, fields)
    if credential is None:
        message = "Fill in every field, with what the provider gave you as it is."
        return page(res, provider, token, message=message, status=400)
    try:
        await verify(
            res.http,
            provider.name,
            provider.api_base_url,
            profile,
            credential,
            provider.profile.auth_header,
        )
    except CredentialRejected as exc:
        message = f"{provider.name.title()} did not accept it; check it and try again."
        return page(res, provider, token, message=message, code=exc.code, status=422)
    except ProviderUnavailable as exc:
        message = f"{provider.name.title()} cannot be reached right now; try again in a minute."
        return page(res, provider, token, message=message, code=exc.code, status=503)
    connection_id = await _store(res, connect_session, provider, credential)
    if connect_session.return_url:
        location = with_params(
            connect_session.return_url, {"connection_id": str(connection_id), "status": "connected"}
        )
        return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})
    return render(
        "connect_result.html", ok=True, provider=provider.name, connection_id=connection_id
    )


def _credential(profile: CredentialProfile, fields: dict[str, str]) -> StoredCredential | None:
    """The credential the form's fields give, or None when one is missing, too long or holds
    what cannot be sent."""
    # Pasting often brings spaces around a key; a password is taken exactly as typed.
    values = {
        name: fields.get(name, "") if name == "password" else fields.get(name, "").strip()
        for name in FIELDS[profile.kind]
    }
    if not all(values.values()) or any(len(v) > MAX_SECRET_LENGTH for v in values.values()):
        return None
    if profile.kind == "basic":
        if ":" in values["username"] or not values["username"].isprintable():
            return None
        credential = StoredCredential("basic", SecretStr(values["password"]), values["username"])
    else:
        credential = StoredCredential(profile.kind, SecretStr(values[FIELDS[profile.kind][0]]))
    return credential if credential.problem() is None else None


async def _store(
    res: Resources,
    connect_session: ConnectSession,
    provider: OAuthClient,
    credential: StoredCredential,
) -> uuid.UUID:
    """Use the session up and keep the credential on the client's connection; its id."""
    async with res.db.transaction() as session:
        if not await connect_sessions.consume(session, connect_session):
            raise used(connect_session)
        actor = await ownership.acting_client(session, connect_session.service_client_id)
        try:
            await ownership.check_may_connect(
                session,
                actor,
                connect_session.user_id,
                provider.name,
                additional=connect_session.additional,
            )
            connection, created = await keep(
                session,
                res.keys,
                credential,
                user_id=connect_session.user_id,
                provider=provider.name,
                owner=ownership.Target(
                    owner=actor.client_id,
                    space=actor.space,
                    name=actor.name or "",
                    namespace=actor.namespace,
                ),
                client_id=connect_session.service_client_id,
                additional=connect_session.additional,
            )
        except (ConnectionOwnedByOtherClient, UserNotAllowed) as exc:
            raise _refused(exc, connect_session) from exc
        audit.record(
            session,
            actor=f"client:{actor.name or actor.client_id}",
            action="connection.credential_stored",
            connection_id=connection.id,
            details={
                "created": created,
                "auth_mode": credential.kind,
                "connect_session_id": str(connect_session.id),
                "labels": connection.labels,
            },
        )
        await emit(
            session,
            res.settings.event_endpoints,
            "connection.created" if created else "connection.recovered",
            await connection_data(session, connection, "credential_stored"),
        )
        await connect_sessions.link(session, connect_session, connection.id)
        return connection.id


def _refused(exc: GatewayError, connect_session: ConnectSession) -> ConnectFailure:
    return ConnectFailure(
        exc.code,
        "This service may not connect this account; nothing was changed.",
        connect_session,
        status_code=exc.status_code,
    )
