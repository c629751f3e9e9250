"""Whether a service client may make this call for this user; a refusal is audited.

Two checks, both before the provider is called: an allow rule must match the method and the
normalised path; the user id must be in the client's namespace (``user_pattern``). Each refusal is a
403 ``proxy_forbidden`` and an ``AuditEvent`` (action ``proxy.forbidden``, actor ``client:<name>``).
A confined client (``own_users_only``) needs no check here: it looks connections up in its own
space only (``admission.Admission.token_key``), so another client's are not found.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import NoReturn

from gateway.audit import store as audit
from gateway.clients.allow_rules import is_allowed
from gateway.clients.store import Principal
from gateway.kit.db import Database
from gateway.proxy.errors import ProxyForbidden
from gateway.proxy.paths import ProxyPath

log = logging.getLogger(__name__)

ACTION = "proxy.forbidden"


@dataclass(frozen=True)
class Call:
    """A proxied call as the policy sees it."""

    principal: Principal
    method: str
    path: ProxyPath
    user_id: str


async def refuse(
    db: Database, call: Call, reason: str, message: str, connection_id: uuid.UUID | None = None
) -> NoReturn:
    details = {"method": call.method, "path": call.path.encoded, "reason": reason}
    async with db.transaction() as session:
        audit.record(
            session,
            actor=f"client:{call.principal.name}",
            action=ACTION,
            connection_id=connection_id,
            details={
                **details,
                "user_id": call.user_id,
                "client_id": str(call.principal.client_id),
            },
        )
    log.info(
        "refused %s %s for client %s: %s",
        call.method,
        call.path.encoded,
        call.principal.name,
        reason,
    )
    raise ProxyForbidden(message, details=details)


async def check_call(db: Database, call: Call) -> None:
    """The checks that need no connection: allow rules, then the user id's namespace."""
    if not is_allowed(call.principal.rules, call.method, call.path.segments):
        await refuse(db, call, "no_rule", f"this service may not {call.method} {call.path.encoded}")
    if not call.principal.namespace.admits_user_id(call.user_id):
        await refuse(db, call, "user_pattern", "this service may not act for this user")
