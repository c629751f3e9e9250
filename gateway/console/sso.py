"""Signing in to the console at the company's identity provider (OpenID Connect), and signing out
there too.

``GET /console/sso/start`` sends the browser to the provider (authorization code with PKCE, a
``state`` and a ``nonce``, kept sealed in a cookie of their own); ``GET /console/sso/callback`` takes
the code back, checks the ``iss`` of the answer (RFC 9207), exchanges the code and validates the ID
token with the providers' own validator (signature, issuer, audience, expiry, nonce). The operator's
role comes from the role claim (``console_oidc_role_claim``, from userinfo when the ID token lacks
it) through ``console_oidc_roles``; a claim mapped to no role gives no access. ``fresh=1`` asks the
provider for a new sign-in (``max_age`` with ``prompt=login``), which dangerous actions need; its
answer must then carry an ``auth_time`` that recent.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.audit import store as audit
from gateway.console import console_sessions as sessions
from gateway.console.console_sessions import SsoSession
from gateway.console.errors import SignInMethodOff, SignInNotStarted, SignInRefused
from gateway.console.guard import context, safe_next
from gateway.console.render import error_page, see_other
from gateway.console.sso_checks import claims_with_role
from gateway.console.sso_tokens import (
    PendingSignIn,
    ProviderTokens,
    clear_pending,
    read_pending,
    write_pending,
)
from gateway.exceptions import GatewayError
from gateway.operators.identity_provider import (
    SignedInIdentity,
    callback_url,
    role_of_claims,
    signed_out_url,
)
from gateway.providers import (
    GrantRejected,
    InvalidIdToken,
    IssuerMismatch,
    OAuthClient,
    code_challenge,
    new_code_verifier,
    new_nonce,
    new_state,
)
from gateway.providers.spender import OPERATOR
from gateway.settings import Settings

log = logging.getLogger(__name__)

NOT_CONFIGURED = "Signing in with the identity provider is not configured on this gateway."
# The validator's leeway: the provider's clock and ours may differ that much.
AUTH_TIME_LEEWAY_SECONDS = 60


async def start(request: Request) -> Response:
    ctx = context(request)
    settings = ctx.res.settings
    idp = ctx.res.console_idp
    if idp is None:
        return error_page(SignInMethodOff(NOT_CONFIGURED))
    verifier = new_code_verifier()
    pending = PendingSignIn(
        state=new_state(),
        nonce=new_nonce(),
        code_verifier=verifier,
        next=safe_next(request.query_params.get("next")),
        max_age=settings.console_fresh_sign_in_seconds
        if request.query_params.get("fresh") == "1"
        else None,
        started_at=ctx.now,
    )
    try:
        url = await idp.authorization_url(
            redirect_uri=callback_url(settings),
            state=pending.state,
            code_challenge=code_challenge(verifier),
            nonce=pending.nonce,
            max_age=pending.max_age,
        )
    except GatewayError as exc:
        return _failed(exc, settings)
    response = RedirectResponse(url, status_code=303)
    write_pending(response, pending, ctx.res.keys, settings)
    return response


async def callback(request: Request) -> Response:
    ctx = context(request)
    settings = ctx.res.settings
    idp = ctx.res.console_idp
    pending = read_pending(request, ctx.res.keys)
    params = request.query_params
    if idp is None:
        return error_page(SignInMethodOff(NOT_CONFIGURED))
    if pending is None or not pending.matches(params.get("state"), ctx.now):
        return _failed(
            SignInNotStarted(
                "This sign-in was not started from this browser, or took too long. "
                "Please sign in again."
            ),
            settings,
        )
    if params.get("error") is not None:
        reason = str(params.get("error_description") or params["error"])[:200]
        return _failed(
            SignInRefused(f"The identity provider did not sign you in: {reason}"), settings
        )
    code = params.get("code")
    if not code:
        return _failed(SignInNotStarted("The identity provider's answer has no code."), settings)
    try:
        identity, claims, tokens = await _signed_in(idp, pending, code, params.get("iss"), settings)
    except (InvalidIdToken, IssuerMismatch, GrantRejected) as exc:
        log.warning("console: single sign-on refused: %s", exc.message)
        return _failed(
            SignInRefused(f"The identity provider's answer was refused: {exc.message}"), settings
        )
    except GatewayError as exc:
        return _failed(exc, settings)
    if pending.max_age is not None and not _recent(identity.auth_time, ctx.now, pending.max_age):
        return _failed(
            SignInRefused("The identity provider did not ask you to sign in again."), settings
        )
    role = role_of_claims(claims, settings)
    if role is None:
        log.warning("console: %s signed in but has no console role", identity.actor)
        return _failed(
            SignInRefused(
                f"You signed in as {identity.email or identity.subject}, but no console role is "
                f"given to you: none of your {settings.console_oidc_role_claim!r} is mapped to one. "
                "Ask the gateway's administrators for access."
            ),
            settings,
        )
    async with ctx.res.db.transaction() as tx:
        audit.record(
            tx,
            actor=identity.actor,
            action="console.signed_in",
            connection_id=None,
            details={"role": role.label, "method": "sso"},
        )
    log.info("console: %s signed in as %s", identity.actor, role.label)
    sso = SsoSession(
        issuer=identity.issuer,
        subject=identity.subject,
        email=identity.email,
        name=identity.name,
        role=role.label,
        auth_time=identity.auth_time if identity.auth_time is not None else ctx.now,
        checked_at=ctx.now,
        tokens=tokens.seal(ctx.res.keys, identity.subject),
    )
    response = see_other(pending.next)
    ctx.keep(response, sessions.signed_in_sso(sso, ctx.now))
    clear_pending(response, settings)
    return response


async def _signed_in(
    idp: OAuthClient, pending: PendingSignIn, code: str, iss: str | None, settings: Settings
) -> tuple[SignedInIdentity, dict[str, object], ProviderTokens]:
    idp.check_callback_issuer(iss)
    answer = await idp.exchange_code(
        code=code,
        redirect_uri=callback_url(settings),
        code_verifier=pending.code_verifier,
        spender=OPERATOR,
    )
    if answer.id_token is None:
        raise InvalidIdToken("the token response has no ID token", provider=idp.name)
    validated = await idp.validate_id_token(answer.id_token.get_secret_value(), nonce=pending.nonce)
    access_token = answer.access_token.get_secret_value()
    claims = dict(await claims_with_role(idp, validated, access_token, settings))
    assert idp.issuer is not None
    return SignedInIdentity.of(claims, idp.issuer), claims, ProviderTokens.of(answer)


def _recent(auth_time: int | None, now: int, max_age: int) -> bool:
    return auth_time is not None and now - auth_time <= max_age + AUTH_TIME_LEEWAY_SECONDS


def _failed(exc: GatewayError, settings: Settings) -> Response:
    """The failure as a page with a way back to the sign-in page; the sign-in under way ends."""
    response = error_page(exc, retry=True)
    response.headers.update(exc.headers)
    clear_pending(response, settings)
    return response


async def end_session_url(idp: OAuthClient, sso: SsoSession, request: Request) -> str | None:
    """Where to send the browser to sign out at the identity provider too (OpenID Connect
    RP-initiated logout); None when it offers no ``end_session_endpoint``."""
    res = context(request).res
    try:
        config = await idp.load_config()
    except GatewayError:
        return None  # signed out here; the provider's own session is left to expire
    if config.end_session_url is None:
        return None
    query = {
        "client_id": config.client_id,
        "post_logout_redirect_uri": signed_out_url(res.settings),
    }
    tokens = ProviderTokens.open(sso.tokens, res.keys, sso.subject)
    if tokens is not None and tokens.id_token is not None:
        query["id_token_hint"] = tokens.id_token
    separator = "&" if "?" in config.end_session_url else "?"
    return f"{config.end_session_url}{separator}{urlencode(query)}"
