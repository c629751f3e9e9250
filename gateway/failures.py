"""What the gateway answers when something below it fails: its database unreachable, full or gone
(503 ``database_unavailable`` with Retry-After, for the caller to retry) or a bug (500). Shared by
the app's exception handlers and the proxy's front door, so every path classifies alike
(``gateway.kit.db.unavailable``) and answers in the gateway's error shape."""

from __future__ import annotations

import logging

import asyncpg
import sqlalchemy.exc
from starlette.responses import Response

from gateway.exceptions import (
    CredentialsUnreadable,
    GatewayError,
    ServiceUnavailable,
    error_response,
)
from gateway.kit.crypto import DecryptionError
from gateway.kit.db import error_name, unavailable

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1

# Every class a database outage can surface as; ``unavailable`` tells an outage from a bug. The app
# handles these inside Starlette's exception middleware, which answers without re-raising, so the
# client's HTTP connection stays open (errors left to the outermost handler close it).
DATABASE_ERRORS = (
    sqlalchemy.exc.SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,
)


class DatabaseUnavailable(ServiceUnavailable):
    """Raised (or answered) when the database cannot serve right now; carries Retry-After."""

    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The gateway cannot reach its database; try again shortly.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def classify(exc: BaseException, where: str) -> GatewayError:
    """The error to answer for an unexpected ``exc`` raised while serving ``where`` (a method and a
    path, never a query string), logged: an outage as one line, a sealed value that does not open
    (copied from another row, or sealed under a key the ring no longer holds) as a stable 409, and
    a bug with its traceback."""
    if unavailable(exc):
        log.error("database unavailable on %s: %s", where, error_name(exc))
        return DatabaseUnavailable()
    if isinstance(exc, DecryptionError):
        log.error("a stored secret does not open with the key ring on %s", where)
        return CredentialsUnreadable(
            "a stored secret this request needs cannot be decrypted with the gateway's keys; an "
            "operator must restore the key (gateway keys status), or the flow must start again"
        )
    log.error("unhandled error on %s", where, exc_info=exc)
    return GatewayError("The gateway failed unexpectedly; this is a bug.")


def failure_response(exc: BaseException, where: str) -> Response:
    return error_response(classify(exc, where))
