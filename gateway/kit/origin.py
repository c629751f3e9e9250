"""Where the request being answered came from: its source address and user agent.

A request-scoped fact, like the request id: ``RequestContext`` binds it for the app's routes, and
whatever records an audit entry while the request is answered reads it. Outside a request (the CLI,
the background jobs) there is none.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from starlette.types import Scope

MAX_USER_AGENT = 256


@dataclass(frozen=True)
class RequestOrigin:
    address: str | None
    user_agent: str | None


current: contextvars.ContextVar[RequestOrigin | None] = contextvars.ContextVar(
    "request_origin", default=None
)


def origin_of(scope: Scope) -> RequestOrigin:
    """The peer's address as the server saw it (behind a proxy, what the server was told to trust)
    and the ``User-Agent`` header, cut to a sane length, undecodable bytes replaced."""
    client = scope.get("client")
    agent: str | None = None
    for name, value in scope["headers"]:
        if name == b"user-agent":
            agent = value[:MAX_USER_AGENT].decode("latin-1")
            break
    return RequestOrigin(address=client[0] if client else None, user_agent=agent)
