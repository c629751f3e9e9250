"""Liveness and readiness."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.exceptions import ServiceUnavailable
from gateway.failures import DatabaseUnavailable
from gateway.kit.migrations import current_revision
from gateway.resources import resources


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers and its schema is the one this build expects."""
    res = resources(request)
    try:
        async with res.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await current_revision(res.db.engine)
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable() from exc
    if revision != res.schema_head:
        raise ServiceUnavailable(
            "the database schema is not the one this version needs; run `gateway migrate`",
            code="schema_outdated",
            details={"database_revision": revision, "required_revision": res.schema_head},
        )
    return JSONResponse({"status": "ready", "schema_revision": revision})
