"""Connect endpoints: open a session (API), send the browser to the provider, take the callback."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gateway.clients.auth import require_client
from gateway.connect import connect_sessions, credential_form, grants
from gateway.connect.flow_errors import ConnectFailure, check_usable, usable_by_token, used
from gateway.connect.return_urls import is_allowed, with_params
from gateway.connections import ownership
from gateway.connections.errors import (
    AdditionalConnectionsUnavailable,
    ConnectionOwnedByOtherClient,
    DuplicateAccount,
    IdentityMismatch,
    UserNotAllowed,
)
from gateway.connections.fields import Scope, UserId
from gateway.exceptions import BadRequest, GatewayError
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.request_body import parse_json
from gateway.models import ConnectSession
from gateway.pages import failure_page, render
from gateway.providers.client import OAuthClient
from gateway.providers.client_credentials import AUTHORIZATION_CODE, require_offered
from gateway.providers.errors import ProviderUnavailable
from gateway.providers.profile import SettingNotAllowed
from gateway.providers.spender import Spender
from gateway.providers.token_response import TokenSet
from gateway.resources import Resources, resources
from gateway.tokens.budget import ShareExhausted

log = logging.getLogger(__name__)


class ConnectSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    provider: str | None = Field(default=None, max_length=64)
    return_url: str | None = Field(default=None, max_length=2048)
    login_hint: str | None = Field(default=None, max_length=320)
    scopes: list[Scope] | None = Field(default=None, max_length=50)
    replace_identity: bool = False
    # A new connection beside the user's default one, instead of re-connecting the default.
    additional: bool = False
    allow_duplicate_account: bool = False


async def create_connect_session(request: Request) -> Response:
    principal = await require_client(request, "connect")
    body = await parse_json(request, ConnectSessionRequest)
    res = resources(request)
    provider = res.providers.get(body.provider)
    if body.return_url is not None and not is_allowed(
        body.return_url, res.settings.allowed_return_urls
    ):
        raise BadRequest(
            "return_url is not one of GATEWAY_ALLOWED_RETURN_URLS", code="return_url_not_allowed"
        )
    if res.refresher.budget is not None:  # refused now rather than at the callback
        await res.refresher.budget.check(provider.name, Spender.client(principal.client_id))
    async with res.db.transaction() as session:
        await ownership.check_may_connect(
            session,
            ownership.Actor.of(principal),
            body.user_id,
            provider.name,
            additional=body.additional,
        )
        connect_session, token = await connect_sessions.create(
            session,
            service_client_id=principal.client_id,
            user_id=body.user_id,
            provider=provider.name,
            return_url=body.return_url,
            login_hint=body.login_hint,
            scopes=body.scopes,
            replace_identity=body.replace_identity,
            additional=body.additional,
            allow_duplicate_account=body.allow_duplicate_account,
            ttl=timedelta(seconds=res.settings.connect_session_ttl_seconds),
        )
    return JSONResponse(
        {
            "id": str(connect_session.id),
            "connect_url": f"{res.settings.public_url}/connect?token={token}",
            "expires_at": rfc3339(connect_session.expires_at),
        },
        status_code=201,
    )


async def start_connect(request: Request) -> Response:
    """``GET /connect?token=...``: bind the flow to this browser and go to the provider; for a
    provider that takes stored credentials, the form to type one in (``credential_form``)."""
    res = resources(request)
    token = request.query_params.get("token", "")
    async with res.db.transaction() as session:
        connect_session = await usable_by_token(session, token)
        provider = res.providers.get(connect_session.provider)
        if provider.credentials is not None:  # no OAuth: the user types the credential here
            return credential_form.page(res, provider, token)
        scopes = connect_session.scopes or provider.scopes
        attempt = connect_sessions.begin_attempt(
            connect_session, res.keys, pkce=provider.pkce, openid="openid" in scopes
        )
    # A provider offering only app-level grants has no authorization endpoint to send anyone to.
    offered = (await provider.load_config()).grant_types
    require_offered(provider.name, offered, AUTHORIZATION_CODE)
    location = await provider.authorization_url(
        redirect_uri=res.settings.redirect_uri,
        state=attempt.state,
        code_challenge=attempt.code_challenge,
        nonce=attempt.nonce,
        scopes=connect_session.scopes,
        login_hint=connect_session.login_hint,
    )
    response = RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        connect_sessions.cookie_name(connect_session.id),
        attempt.browser_secret,
        max_age=max(1, int((connect_session.expires_at - utcnow()).total_seconds())),
        path="/oauth/callback",
        secure=res.settings.public_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    return response


def _code(provider: OAuthClient, connect_session: ConnectSession, request: Request) -> str:
    """The code the provider sent to this callback, or why there is none to exchange."""
    params = request.query_params
    if "error" in params:
        code = "access_denied" if params["error"] == "access_denied" else "provider_error"
        raise ConnectFailure(code, "The provider did not grant access.", connect_session)
    if not params.get("code"):
        raise ConnectFailure("missing_code", "The provider sent no code.", connect_session)
    try:
        provider.check_callback_issuer(params.get("iss"))
    except GatewayError as exc:
        log.warning("callback issuer refused for connect session %s", connect_session.id)
        raise ConnectFailure(
            "token_exchange_failed", "The provider refused the sign-in.", connect_session
        ) from exc
    return params["code"]


async def _exchange(
    res: Resources,
    provider: OAuthClient,
    connect_session: ConnectSession,
    code: str,
    spender: Spender,
) -> tuple[TokenSet, str]:
    try:
        tokens = await provider.exchange_code(
            code=code,
            redirect_uri=res.settings.redirect_uri,
            code_verifier=connect_sessions.code_verifier(connect_session, res.keys),
            spender=spender,
        )
    except ShareExhausted as exc:
        raise ConnectFailure(
            exc.code,
            "This service has used its share of the provider's sign-ins for now; "
            "open the connect link again later.",
            connect_session,
            status_code=exc.status_code,
        ) from exc
    except ProviderUnavailable as exc:
        log.warning(
            "code exchange deferred for connect session %s: %s", connect_session.id, exc.code
        )
        raise ConnectFailure(
            "provider_unavailable",
            "The provider is busy right now; open the connect link again in a minute.",
            connect_session,
            status_code=503,
        ) from exc
    except GatewayError as exc:
        log.warning("code exchange failed for connect session %s: %s", connect_session.id, exc.code)
        raise ConnectFailure(
            "token_exchange_failed", "The provider refused the sign-in.", connect_session
        ) from exc
    try:
        subject = await provider.subject(tokens, nonce=connect_session.nonce, spender=spender)
    except GatewayError as exc:
        log.warning("no subject for connect session %s: %s", connect_session.id, exc.code)
        await grants.discard(provider, tokens, spender)
        raise ConnectFailure(
            "token_exchange_failed", "The provider's answer could not be verified.", connect_session
        ) from exc
    try:
        await grants.check_settings(provider, tokens, spender)
    except SettingNotAllowed as exc:
        raise ConnectFailure(
            exc.code,
            "The provider named an API address this gateway does not allow; nothing was stored.",
            connect_session,
            status_code=exc.status_code,
            details=exc.details,
        ) from exc
    return tokens, subject


async def callback(request: Request) -> Response:
    """``GET /oauth/callback``: check state and browser, claim the attempt, exchange the code, store
    the connection. Only the callback that claims the attempt sends its code to the provider; any
    other callback for it, concurrent or later, is answered ``connect_session_used``."""
    res = resources(request)
    state = request.query_params.get("state", "")
    async with res.db.transaction() as session:
        connect_session = await connect_sessions.find_by_state(session, state) if state else None
        if connect_session is None:
            raise ConnectFailure(
                "invalid_state", "This sign-in is unknown or was replaced by a newer one."
            )
        check_usable(connect_session)
        cookie = request.cookies.get(connect_sessions.cookie_name(connect_session.id))
        if not connect_sessions.browser_matches(connect_session, cookie):
            raise ConnectFailure(
                "browser_mismatch",
                "This sign-in was started in another browser; open the connect link again here.",
                connect_session,
            )
        provider = res.providers.get(connect_session.provider)
        code = _code(provider, connect_session, request)
        if not await connect_sessions.claim(session, connect_session):
            raise used(connect_session)
    spender = Spender.client(connect_session.service_client_id)
    tokens, subject = await _exchange(res, provider, connect_session, code, spender)

    grant = grants.Grant(
        user_id=connect_session.user_id,
        provider=connect_session.provider,
        subject=subject,
        tokens=tokens,
        client_id=connect_session.service_client_id,
        replace_identity=connect_session.replace_identity,
        additional=connect_session.additional,
        allow_duplicate_account=connect_session.allow_duplicate_account,
        origin={"connect_session_id": str(connect_session.id)},
    )
    async with grants.transaction(res.db, provider, tokens, spender) as session:
        if not await connect_sessions.consume(session, connect_session):
            raise used(connect_session)
        try:
            connection, _created = await grants.save(session, res.keys, res.settings, grant)
        except IdentityMismatch as exc:
            raise ConnectFailure(
                exc.code,
                "You signed in with a different account than the one already connected.",
                connect_session,
                status_code=exc.status_code,
            ) from exc
        except (DuplicateAccount, AdditionalConnectionsUnavailable) as exc:
            raise ConnectFailure(
                exc.code,
                "This account is already connected; nothing was changed."
                if isinstance(exc, DuplicateAccount)
                else exc.message,
                connect_session,
                status_code=exc.status_code,
                details=exc.details,
            ) from exc
        except (ConnectionOwnedByOtherClient, UserNotAllowed) as exc:
            raise ConnectFailure(
                exc.code,
                "This service may not connect this account; nothing was changed.",
                connect_session,
                status_code=exc.status_code,
            ) from exc
        await connect_sessions.link(session, connect_session, connection.id)
    log.info(
        "connection %s connected via %s",
        connection.id,
        connect_session.provider,
        extra={"connection_id": connection.id, "provider": connect_session.provider},
    )
    return _success(res, connect_session, connection.id, provider)


def _success(
    res: Resources, connect_session: ConnectSession, connection_id: uuid.UUID, provider: OAuthClient
) -> Response:
    if connect_session.return_url:
        location = with_params(
            connect_session.return_url, {"connection_id": str(connection_id), "status": "connected"}
        )
        response: Response = RedirectResponse(location, status_code=302)
    else:
        response = render(
            "connect_result.html",
            ok=True,
            provider=provider.name,
            connection_id=connection_id,
        )
    response.delete_cookie(connect_sessions.cookie_name(connect_session.id), path="/oauth/callback")
    return response


def render_failure(request: Request, exc: ConnectFailure) -> Response:
    if exc.return_url:
        location = with_params(exc.return_url, {"status": "error", "error": exc.code})
        return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            exc.body(), status_code=exc.status_code, headers={"Gateway-Error": "1", **exc.headers}
        )
    page = failure_page(exc.status_code, exc.code, exc.message)
    page.headers.update(exc.headers)
    return page


def render_flow_error(request: Request, error: GatewayError) -> Response | None:
    """``error`` (a database outage, a bug) as the connect flow's pages render their failures, when
    ``request`` is for one of them."""
    if request.scope.get("endpoint") not in (start_connect, callback, credential_form.submit):
        return None
    failure = ConnectFailure(
        error.code, error.message, status_code=error.status_code, headers=error.headers
    )
    return render_failure(request, failure)


async def handle_connect_failure(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConnectFailure)
    return render_failure(request, exc)
