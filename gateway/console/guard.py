"""Who is signed in to the console, and the CSRF check of every form they post.

A ``key`` session names a service client; on every request the client must still exist, be enabled,
hold an operator's role (``operators.roles``: ``viewer`` to ``security``, or the legacy ``admin``)
and have the key it signed in with, so disabling an operator's client, taking its role or giving it
a new key ends their sessions at once, on every replica; turning the admin-key sign-in off
(``console_break_glass``) ends them all. An ``sso`` session names a person at the identity provider,
whose role is checked there again every few minutes (see ``sso_checks``).

Each page and form needs the permission the one declaration (``operators.route_permissions.CONSOLE``)
names for it; the role is re-read on every request, and a page hides the forms its operator's role
may not post (``Operator.may``).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from gateway.clients.authorization import role_required, route_of, undeclared
from gateway.clients.store import Principal, principal_of
from gateway.connections.endpoints import actor
from gateway.connections.ownership import Actor
from gateway.console import console_sessions as sessions
from gateway.console.console_sessions import Session, SsoSession
from gateway.console.errors import CsrfRejected
from gateway.console.render import error_page, page, see_other
from gateway.console.secret import SigningKeys, signing_keys
from gateway.console.sso_checks import rechecked
from gateway.exceptions import GatewayError
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.kit.dot_segments import has_dot_segments
from gateway.models import ServiceClient
from gateway.operators.roles import Permission, Role, permits, role_of_scopes
from gateway.operators.route_permissions import CONSOLE
from gateway.resources import Resources, resources
from gateway.settings import Settings

CONSOLE_PREFIX = "/console"
HOME = "/console/connections"
SIGN_IN = "/console/sign-in"
SSO_START = "/console/sso/start"


@dataclass(frozen=True)
class Operator:
    """A signed-in operator: ``principal`` is the admin key's client of a ``key`` session, None in
    an ``sso`` session (``session.sso`` then says who)."""

    principal: Principal | None
    session: Session
    role: Role

    @property
    def name(self) -> str:
        if self.principal is not None:
            return self.principal.name
        sso = self._sso
        return sso.email or sso.name or sso.subject

    def may(self, permission: str) -> bool:
        """Whether the operator's role holds ``permission`` (its value: ``revoke_connections``...),
        for templates deciding which forms to show."""
        return permits(self.role, Permission(permission))

    @property
    def actor(self) -> str:
        """The audit trail's actor: the admin API's ``client:<name>`` for a key, ``sso:<email>``
        (else ``sso:<subject>``) for a person signed in at the identity provider."""
        if self.principal is not None:
            return actor(self.principal)
        return sso_actor(self._sso)

    @property
    def acting(self) -> Actor:
        """The operator as an actor on connections (``access``: sees and changes every one; each
        page's permission is checked before)."""
        if self.principal is not None:
            return Actor.of(self.principal, operator=True)
        return Actor(client_id=None, operator=True)

    @property
    def client_id(self) -> uuid.UUID | None:
        """The admin key's client, which owns what the operator creates; None for ``sso``."""
        return self.principal.client_id if self.principal is not None else None

    @property
    def _sso(self) -> SsoSession:
        assert self.session.sso is not None
        return self.session.sso

    @property
    def csrf(self) -> str:
        return self.session.csrf


def sso_actor(sso: SsoSession) -> str:
    """The audit trail's name for a person signed in at the identity provider."""
    return f"sso:{sso.email or sso.subject}"


@dataclass(frozen=True)
class Context:
    """What every console handler needs: the resources, the signing keys, and the time now."""

    res: Resources
    keys: SigningKeys
    now: int

    def session(self, request: Request) -> Session | None:
        return sessions.read(request, self.keys, self.res.settings, self.now)

    def keep(self, response: Response, session: Session) -> None:
        sessions.write(response, session, self.keys, self.res.settings)


def context(request: Request) -> Context:
    res = resources(request)
    keys = signing_keys(res.settings, res.keys.active_key_id)
    return Context(res, keys, int(utcnow().timestamp()))


async def operator_of_session(ctx: Context, session: Session) -> Operator | None:
    """The session's operator, if they may still use the console; an ``sso`` session's role is
    re-checked when due (so the operator's session may have changed: keep ``operator.session``)."""
    if session.sso is not None:
        res = ctx.res
        checked = await rechecked(session, res.console_idp, res.keys, res.settings, ctx.now)
        role = Role.named(checked.sso.role) if checked is not None and checked.sso else None
        return Operator(None, checked, role) if checked is not None and role is not None else None
    if not ctx.res.settings.console_break_glass:
        return None
    principal = await principal_of_session(ctx.res.db, session)
    return key_operator(principal, session)


def key_operator(principal: Principal | None, session: Session) -> Operator | None:
    """The operator of a ``key`` session whose client still holds an operator's role."""
    role = role_of_scopes(principal.scopes) if principal is not None else None
    return (
        Operator(principal, session, role) if principal is not None and role is not None else None
    )


def signed_in_recently(operator: Operator, settings: Settings, now: int) -> bool:
    """Whether the operator signed in (at the identity provider: its ``auth_time``; with a key: the
    sign-in) within ``console_fresh_sign_in_seconds``, as dangerous actions require."""
    sso = operator.session.sso
    at = sso.auth_time if sso is not None else operator.session.signed_in_at
    return at is not None and now - at <= settings.console_fresh_sign_in_seconds


def fresh_sign_in_needed(request: Request, operator: Operator, next_: str) -> Response | None:
    """None when ``operator`` may go on with a dangerous action; otherwise what sends them to sign
    in again, coming back to the console path ``next_`` (the action's confirmation step): with a
    key, a redirect to the sign-in form; at the identity provider (``max_age`` and
    ``prompt=login``), a page that goes there by itself, since the console's CSP (``form-action
    'self'``) stops a form's answer from redirecting to another origin."""
    ctx = context(request)
    if signed_in_recently(operator, ctx.res.settings, ctx.now):
        return None
    query = urlencode({"next": safe_next(next_), "fresh": "1"})
    if operator.session.sso is None:
        return see_other(f"{SIGN_IN}?{query}")
    return page("fresh_sign_in.html", operator=operator, again=f"{SSO_START}?{query}")


async def principal_of_session(db: Database, session: Session) -> Principal | None:
    """The client of a ``key`` session while it exists, is enabled and still has the key the
    session signed in with (whether it holds an operator's role is ``key_operator``'s to say)."""
    if session.client_id is None:
        return None
    async with db.transaction() as tx:
        client = await tx.get(ServiceClient, session.client_id)
    if (
        client is None
        or client.revoked_at is not None
        or not hmac.compare_digest(sessions.key_check(client.key_hash), session.key_check or "")
    ):
        return None
    return principal_of(client)


def csrf_matches(form: FormData, session: Session) -> bool:
    token = form.get("csrf")
    return isinstance(token, str) and hmac.compare_digest(token.encode(), session.csrf.encode())


async def check_csrf(request: Request, session: Session) -> None:
    if not csrf_matches(await request.form(), session):
        raise CsrfRejected(
            "This form did not come from your console session. Reload the page and try again."
        )


def safe_next(value: object) -> str:
    """Where to go after signing in: a console path, never another site nor, through dot segments
    (plain or percent-encoded), another path of the gateway."""
    if (
        isinstance(value, str)
        and len(value) <= 2000
        and (value == "/console" or value.startswith("/console/"))
        and value.isprintable()
        and "\\" not in value
        and not has_dot_segments(value.partition("?")[0].partition("#")[0])
    ):
        return value
    return HOME


def to_sign_in(request: Request, ctx: Context) -> Response:
    target = SIGN_IN
    if request.method == "GET":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?" + urlencode({"next": path})
    response = see_other(target)
    if sessions.COOKIE in request.cookies:
        sessions.clear(response, ctx.res.settings)
    return response


def check_page(request: Request, operator: Operator) -> None:
    """403 ``role_required`` unless the operator's role holds the page's declared permission; a
    page missing from the declaration is refused to every role."""
    needed = CONSOLE.get(route_of(request, CONSOLE_PREFIX))
    if needed is None:
        raise undeclared()
    if not permits(operator.role, needed):
        raise role_required(needed)


Handler = Callable[[Request, Operator], Awaitable[Response]]


def operator_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A console page behind sign-in: signed-out requests go to the sign-in page, every POST must
    carry the session's CSRF token, the operator's role must hold the page's permission
    (``check_page``, also the place for a dangerous action's fresh sign-in), the gateway's
    expected errors become pages, and each view re-signs the session (its idle timeout slides)."""

    async def endpoint(request: Request) -> Response:
        ctx = context(request)
        session = ctx.session(request)
        operator = await operator_of_session(ctx, session) if session else None
        if operator is None:
            return to_sign_in(request, ctx)
        session = operator.session
        try:
            if request.method == "POST":
                await check_csrf(request, session)
            check_page(request, operator)
            response = await handler(request, operator)
        except GatewayError as exc:
            response = error_page(exc, operator=operator)
        ctx.keep(response, session.seen(ctx.now))
        return response

    return endpoint
