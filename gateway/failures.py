"""What the gateway answers when something below it fails: its database unreachable or full (503,
for the caller to retry) or a bug (500). Shared by the app's exception handlers and the proxy's
front door."""

from __future__ import annotations

import asyncpg
import sqlalchemy.exc
from starlette.responses import Response

from gateway.exceptions import plain_error

# What the database (or its pool) raises when it cannot be reached or is full: the gateway cannot
# serve right now, which is a 503 for the caller to retry, not a bug.
DATABASE_UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    ConnectionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.CannotConnectNowError,
)


def database_unavailable() -> Response:
    response = plain_error(
        503, "database_unavailable", "The gateway cannot reach its database; try again shortly."
    )
    response.headers["Retry-After"] = "1"
    return response


def unexpected() -> Response:
    return plain_error(500, "internal_error", "The gateway failed unexpectedly; this is a bug.")
