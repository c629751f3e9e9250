"""The sign-in page (single sign-on, and the admin-key form), signing in with one's own admin key, and
signing out.

The admin key is the break-glass path: on unless ``console_break_glass`` is false, when the form is
not shown and a posted key is refused (``sso`` holds the single sign-on). A refused key (unknown,
disabled, or without an operator's role) gets one message whatever the reason, so the page tells a
guesser nothing; the key itself is never logged, echoed or kept: the session holds
the client's id and a check of its key hash. Both are audited under the operator's name.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from gateway.audit import store as audit
from gateway.clients.service_keys import hash_key
from gateway.clients.store import authenticate
from gateway.connections.endpoints import actor
from gateway.console import console_sessions as sessions
from gateway.console.console_sessions import Session
from gateway.console.guard import (
    SIGN_IN,
    SSO_START,
    Context,
    check_csrf,
    context,
    csrf_matches,
    operator_of_session,
    principal_of_session,
    safe_next,
    sso_actor,
)
from gateway.console.render import error_page, page, see_other
from gateway.console.sso import end_session_url
from gateway.exceptions import DelegatedKeyNotAllowed, GatewayError
from gateway.operators.roles import role_of_scopes

log = logging.getLogger(__name__)

REFUSED = "This key cannot sign in to the console. Use your own admin key."
BREAK_GLASS_OFF = "Signing in with an admin key is turned off on this gateway."
EXPIRED_FORM = "The sign-in form had expired. Please sign in again."


async def show(request: Request) -> Response:
    """The sign-in page; a signed-in operator goes on to ``next``, unless ``fresh=1`` asks them to
    sign in again (before a dangerous action)."""
    ctx = context(request)
    next_ = safe_next(request.query_params.get("next"))
    fresh = request.query_params.get("fresh") == "1"
    session = ctx.session(request)
    operator = await operator_of_session(ctx, session) if session is not None else None
    if operator is not None:
        session = operator.session  # as its role check may have left it (new tokens)
        if not fresh:
            response = see_other(next_)
            ctx.keep(response, session.seen(ctx.now))
            return response
    elif session is None or session.kind is not None:
        session = sessions.anonymous(ctx.now)
    return _form(ctx, session, next_)


async def submit(request: Request) -> Response:
    ctx = context(request)
    form = await request.form()
    next_ = safe_next(form.get("next"))
    session = ctx.session(request)
    if not ctx.res.settings.console_break_glass:
        return _form(
            ctx,
            session or sessions.anonymous(ctx.now),
            next_,
            error=BREAK_GLASS_OFF,
            status_code=403,
        )
    if session is None or not csrf_matches(form, session):
        return _form(ctx, sessions.anonymous(ctx.now), next_, error=EXPIRED_FORM, status_code=403)
    given = form.get("key")
    key = given.strip() if isinstance(given, str) else ""
    async with ctx.res.db.transaction() as tx:
        try:
            principal = await authenticate(tx, key) if key else None
        except DelegatedKeyNotAllowed:
            principal = None  # refused like any other key that cannot sign in
        allowed = principal is not None and role_of_scopes(principal.scopes) is not None
        if principal is not None and allowed:
            audit.record(tx, actor=actor(principal), action="console.signed_in", connection_id=None)
    if principal is None or not allowed:
        log.warning("console sign-in refused")
        return _form(ctx, session, next_, error=REFUSED, status_code=403)
    log.info("console: %s signed in", principal.name)
    response = see_other(next_)
    ctx.keep(response, sessions.signed_in(principal.client_id, hash_key(key), ctx.now))
    return response


async def sign_out(request: Request) -> Response:
    """Ends the session here and, for an ``sso`` session whose provider offers it, at the identity
    provider too (a page sends the browser there, and the provider back to the sign-in page)."""
    ctx = context(request)
    session = ctx.session(request)
    # No re-check of the role: a sign-out goes through whatever the provider now says.
    leaving = await _signing_out(ctx, session) if session else None
    response: Response
    if session is None or leaving is None:
        response = see_other(SIGN_IN)
    else:
        try:
            await check_csrf(request, session)
        except GatewayError as exc:
            return error_page(exc)
        async with ctx.res.db.transaction() as tx:
            audit.record(tx, actor=leaving, action="console.signed_out", connection_id=None)
        log.info("console: %s signed out", leaving)
        idp = ctx.res.console_idp
        at_provider = None
        if session.sso is not None and idp is not None:
            at_provider = await end_session_url(idp, session.sso, request)
        # A page, not a redirect: the console's CSP (form-action 'self') stops a form's redirect
        # to another origin; the page's refresh is a navigation of its own.
        if at_provider is None:
            response = see_other(SIGN_IN)
        else:
            response = page("signed_out.html", end_session=at_provider)
    sessions.clear(response, ctx.res.settings)
    return response


async def _signing_out(ctx: Context, session: Session) -> str | None:
    """The audit trail's name for who is signing out, whatever their role now (a role taken away
    still lets its holder leave); None for a key session whose client or key is gone."""
    if session.sso is not None:
        return sso_actor(session.sso)
    principal = await principal_of_session(ctx.res.db, session)
    return actor(principal) if principal is not None else None


def _form(
    ctx: Context,
    session: Session,
    next_: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    settings = ctx.res.settings
    response = page(
        "sign_in.html",
        status_code=status_code,
        csrf=session.csrf,
        next=next_,
        error=error,
        sso=SSO_START + "?" + urlencode({"next": next_}) if ctx.res.console_idp else None,
        break_glass=settings.console_break_glass,
    )
    ctx.keep(response, session)
    return response
