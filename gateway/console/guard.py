"""Who is signed in to the console, and the CSRF check of every form they post.

A session names a service client; on every request the client must still exist, be enabled, hold an
operator's role (``operators.roles``: ``viewer`` to ``security``, or the legacy ``admin``) and have
the key it signed in with, so disabling an operator's client, taking its role or giving it a new key
ends their sessions at once, on every replica. Each page and form needs the permission the one
declaration (``operators.route_permissions.CONSOLE``) names for it; the role is re-read on every
request, and a page hides the forms its operator's role may not post (``Operator.may``).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from gateway.clients.authorization import Caller, role_required, route_of, undeclared
from gateway.clients.store import Principal, principal_of
from gateway.connections.endpoints import actor
from gateway.connections.ownership import Actor
from gateway.console import console_sessions as sessions
from gateway.console.console_sessions import Session
from gateway.console.errors import CsrfRejected
from gateway.console.render import error_page, see_other
from gateway.console.secret import SigningKeys, signing_keys
from gateway.exceptions import GatewayError
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.kit.dot_segments import has_dot_segments
from gateway.models import ServiceClient
from gateway.operators.roles import Permission, Role, permits, role_of_scopes
from gateway.operators.route_permissions import CONSOLE
from gateway.resources import Resources, resources

CONSOLE_PREFIX = "/console"
HOME = "/console/connections"
SIGN_IN = "/console/sign-in"


@dataclass(frozen=True)
class Operator:
    principal: Principal
    session: Session
    role: Role

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def caller(self) -> Caller:
        """The operator as the admin API's authorised caller (for the rules on roles)."""
        return Caller(self.principal, self.role)

    def may(self, permission: str) -> bool:
        """Whether the operator's role holds ``permission`` (its value: ``revoke_connections``...),
        for templates deciding which forms to show."""
        return permits(self.role, Permission(permission))

    @property
    def actor(self) -> str:
        """The admin API's actor (``client:<name>``): the audit trail reads alike either way."""
        return actor(self.principal)

    @property
    def acting(self) -> Actor:
        """The operator as an actor on connections (``access``: sees and changes every one; each
        page's permission is checked before)."""
        return Actor.of(self.principal, operator=True)

    @property
    def csrf(self) -> str:
        return self.session.csrf


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


async def principal_of_session(db: Database, session: Session) -> Principal | None:
    """The session's operator, if they may still use the console."""
    if session.client_id is None:
        return None
    async with db.transaction() as tx:
        client = await tx.get(ServiceClient, session.client_id)
    if (
        client is None
        or client.revoked_at is not None
        or role_of_scopes(client.scopes) is None
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
        principal = await principal_of_session(ctx.res.db, session) if session else None
        if session is None or principal is None:
            return to_sign_in(request, ctx)
        role = role_of_scopes(principal.scopes)
        assert role is not None  # principal_of_session admits operators only
        operator = Operator(principal, session, role)
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
