"""Signing in to the console with one's own admin key, and signing out.

A refused key (unknown, disabled, or without an operator's role) gets one message whatever the reason,
so the page tells a guesser nothing; the key itself is never logged, echoed or kept: the session holds
the client's id and a check of its key hash. Both are audited under the operator's name.
"""

from __future__ import annotations

import logging

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
    Context,
    check_csrf,
    context,
    csrf_matches,
    principal_of_session,
    safe_next,
)
from gateway.console.render import error_page, page, see_other
from gateway.exceptions import DelegatedKeyNotAllowed, GatewayError
from gateway.operators.roles import role_of_scopes

log = logging.getLogger(__name__)

REFUSED = "This key cannot sign in to the console. Use your own admin key."
EXPIRED_FORM = "The sign-in form had expired. Please sign in again."


async def show(request: Request) -> Response:
    ctx = context(request)
    next_ = safe_next(request.query_params.get("next"))
    session = ctx.session(request)
    if session is not None and await principal_of_session(ctx.res.db, session) is not None:
        return see_other(next_)
    if session is None or session.client_id is not None:
        session = sessions.anonymous(ctx.now)
    return _form(ctx, session, next_)


async def submit(request: Request) -> Response:
    ctx = context(request)
    form = await request.form()
    next_ = safe_next(form.get("next"))
    session = ctx.session(request)
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
    ctx = context(request)
    session = ctx.session(request)
    principal = await principal_of_session(ctx.res.db, session) if session else None
    if session is None or principal is None:
        response = see_other(SIGN_IN)
    else:
        try:
            await check_csrf(request, session)
        except GatewayError as exc:
            return error_page(exc)
        async with ctx.res.db.transaction() as tx:
            audit.record(
                tx, actor=actor(principal), action="console.signed_out", connection_id=None
            )
        log.info("console: %s signed out", principal.name)
        response = see_other(SIGN_IN)
    sessions.clear(response, ctx.res.settings)
    return response


def _form(
    ctx: Context,
    session: Session,
    next_: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    response = page(
        "sign_in.html", status_code=status_code, csrf=session.csrf, next=next_, error=error
    )
    ctx.keep(response, session)
    return response
