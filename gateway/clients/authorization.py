"""Who may call each admin-API endpoint: the one check (``authorize``) of the one declaration
(``operators.route_permissions.ADMIN_API``).

Every admin-API endpoint starts with ``authorize(request)``, which looks its route and method up in
the declaration and decides between three callers:

- an admin key whose role (``roles.role_of_scopes``) holds the route's permission: an operator,
  who sees and acts on everyone's rows;
- a service client holding the route's ``client_scope`` (``connect``), where the route has one: it
  acts for itself under the endpoint's own ownership rules, exactly as a client without a role;
- anyone else: 403 ``role_required`` (details ``required``, the least role, and ``permission``)
  for a key that has a role too low, 403 ``insufficient_scope`` for a key with no role at all, as
  before roles existed.

A route missing from the declaration is refused to everyone (tests/operators check every admin
route is declared). The console checks its pages against the same roles (``console.guard``). The
CLI, working with the database's own credentials, is not decided here.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from gateway.clients.auth import authenticated
from gateway.clients.credentials import insufficient_scope
from gateway.clients.store import Principal
from gateway.exceptions import Forbidden
from gateway.operators.roles import LEAST_ROLE, Permission, Role, permits, role_of_scopes
from gateway.operators.route_permissions import ADMIN_API, Rule


class RoleRequired(Forbidden):
    """Raised when an admin key's role does not hold the permission an action needs."""

    code = "role_required"


@dataclass(frozen=True)
class Caller:
    """An authorised caller: an operator (``role`` set) or a service client acting for itself."""

    principal: Principal
    role: Role | None

    @property
    def operator(self) -> bool:
        return self.role is not None

    @property
    def actor(self) -> str:
        """How the audit trail names the caller."""
        return f"client:{self.principal.name}"


def role_required(permission: Permission) -> RoleRequired:
    least = LEAST_ROLE[permission]
    return RoleRequired(
        f"this needs the {least.label!r} role or a higher one",
        details={"required": least.label, "permission": permission.value},
    )


def undeclared() -> RoleRequired:
    """The refusal of a route the declaration lacks: no one may call it."""
    return RoleRequired("this is open to no role", details={"required": None, "permission": None})


def decide(principal: Principal, rule: Rule) -> Caller:
    """The caller ``principal`` is under ``rule``, or the refusal (see the module's docstring)."""
    role = role_of_scopes(principal.scopes)
    if permits(role, rule.permission):
        return Caller(principal, role)
    if rule.client_scope is not None and rule.client_scope in principal.scopes:
        return Caller(principal, None)
    if role is not None:
        raise role_required(rule.permission)
    raise insufficient_scope(rule.client_scope or LEAST_ROLE[rule.permission].label)


def require(caller: Caller, permission: Permission) -> None:
    """Hold an operator to a further permission an action needs (a patch that does more than
    pause, say); a service client acting for itself is left to the endpoint's ownership rules."""
    if caller.role is not None and not permits(caller.role, permission):
        raise role_required(permission)


def require_role(held: Role | None, role: Role | None) -> None:
    """Refuse a caller holding ``held`` (None: no operator role) when it is below ``role``: no one
    hands out, or acts on a key holding, a role above their own (``role`` None: none at stake)."""
    if role is not None and (held is None or held < role):
        raise RoleRequired(
            f"only a {role.label!r} key or a higher one may grant or change the {role.label!r} role",
            details={"required": role.label, "permission": Permission.MANAGE_CLIENTS.value},
        )


def route_of(request: Request, prefix: str = "") -> tuple[str, str]:
    """The (method, route path) a declaration names the request's route by, the path under
    ``prefix`` (a mount's); HEAD is GET (Starlette answers it on every GET route)."""
    path = getattr(request.scope.get("route"), "path", None)
    method = "GET" if request.method == "HEAD" else request.method
    return method, f"{prefix}{path}" if isinstance(path, str) else ""


def rule_of(request: Request) -> Rule:
    rule = ADMIN_API.get(route_of(request))
    if rule is None:
        raise undeclared()
    return rule


async def authorize(request: Request) -> Caller:
    """Authenticate the request's service key and decide it under its route's rule."""
    rule = rule_of(request)
    return decide(await authenticated(request), rule)
