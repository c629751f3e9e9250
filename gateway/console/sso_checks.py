"""Asking the identity provider again what role a signed-in operator has.

An ``sso`` session's role is checked again once ``console_oidc_recheck_seconds`` have passed since
the last check, on the operator's next page view: with the refresh token (a new ID token, else
userinfo), or, when the provider gave none, userinfo with the access token. A group removed at the
provider thus takes effect within that period; the provider refusing the refresh, naming another
subject, or giving a claim mapped to no role ends the session.

While the provider cannot be reached the session goes on with the role it had, each page view trying
again, for at most ``console_oidc_recheck_grace_seconds`` beyond the period; then it ends, and signing
in waits for the provider (the admin-key sign-in, unless turned off, is the way in meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from gateway.console.console_sessions import Session, SsoSession
from gateway.console.sso_tokens import ProviderTokens
from gateway.exceptions import GatewayError
from gateway.kit.crypto import KeyRing
from gateway.operators.identity_provider import role_of_claims
from gateway.operators.roles import Role
from gateway.providers import OAuthClient, ProviderError, ProviderUnavailable
from gateway.providers.id_token import subject_claim
from gateway.providers.spender import OPERATOR
from gateway.settings import Settings

log = logging.getLogger(__name__)


async def claims_with_role(
    idp: OAuthClient, claims: Mapping[str, object], access_token: str, settings: Settings
) -> Mapping[str, object]:
    """``claims`` (validated), with the role claim from userinfo when the ID token lacks it (many
    providers put groups in userinfo only). Userinfo naming another subject is a ProviderError."""
    if settings.console_oidc_role_claim in claims:
        return claims
    info = await idp.userinfo(access_token)
    if subject_claim(info) != claims.get("sub"):
        raise ProviderError("the userinfo answer names another user", provider=idp.name)
    return {**info, **claims}


async def rechecked(
    session: Session, idp: OAuthClient | None, keys: KeyRing, settings: Settings, now: int
) -> Session | None:
    """``session`` as it may go on: unchanged while its role was checked recently enough (or the
    provider is unreachable, within the grace), with the role found when checked now; None when
    the operator may no longer use the console."""
    sso = session.sso
    assert sso is not None
    due = sso.checked_at + settings.console_oidc_recheck_seconds
    if now < due:
        return session
    if idp is None:
        return None  # single sign-on has been turned off since this session began
    try:
        role, tokens = await _current_role(idp, sso, keys, settings)
    except ProviderUnavailable as exc:
        if now <= due + settings.console_oidc_recheck_grace_seconds:
            log.warning("console: cannot re-check %s's role now: %s", sso.subject, exc.message)
            return session
        log.warning("console: %s's session ends: role unchecked past the grace", sso.subject)
        return None
    except GatewayError as exc:
        log.info("console: %s's session ends: %s", sso.subject, exc.message)
        return None
    if role is None:
        log.info("console: %s's session ends: their claims give no role now", sso.subject)
        return None
    checked = replace(sso, role=role.label, checked_at=now, tokens=tokens.seal(keys, sso.subject))
    return replace(session, sso=checked)


async def _current_role(
    idp: OAuthClient, sso: SsoSession, keys: KeyRing, settings: Settings
) -> tuple[Role | None, ProviderTokens]:
    held = ProviderTokens.open(sso.tokens, keys, sso.subject)
    if held is None:
        raise ProviderError("the session's tokens do not open", provider=idp.name)
    if held.refresh_token is not None:
        answer = await idp.refresh(held.refresh_token, spender=OPERATOR)
        tokens = ProviderTokens.of(answer, previous=held)
        access_token = answer.access_token.get_secret_value()
        if answer.id_token is not None:
            validated = await idp.validate_id_token(answer.id_token.get_secret_value(), nonce=None)
            claims = dict(await claims_with_role(idp, validated, access_token, settings))
        else:
            claims = await idp.userinfo(access_token)
    elif held.access_token is not None:
        claims = await idp.userinfo(held.access_token)
        tokens = held
    else:
        raise ProviderError("the session holds no token to ask with", provider=idp.name)
    if subject_claim(claims) != sso.subject:
        raise ProviderError("the provider's answer names another user", provider=idp.name)
    return role_of_claims(claims, settings), tokens
