"""Liveness and readiness."""

from __future__ import annotations

import os

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.exceptions import ServiceUnavailable
from gateway.failures import DatabaseUnavailable
from gateway.kit.clock import rfc3339
from gateway.kit.migrations import Step, UnknownRevision, current_revision, pending
from gateway.resources import resources


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers and its schema is the one this build expects, or it lacks
    only contract steps (``kit.migrations``; listed as ``pending_contract``); under
    ``serve --workers``, ``process`` says which serving process answered.

    ``change_feed`` says whether the process's change feed listens, and since when. A feed that
    does not listen leaves the process ready: it serves correctly, only every proxied call reads
    the database (its caches are off) until the feed is back; taking every replica out of the
    load balancer for that would turn a slowdown into an outage."""
    res = resources(request)
    try:
        async with res.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await current_revision(res.db.engine)
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable() from exc
    steps = _pending(revision) if revision != res.schema_head else ()
    if steps is None or not all(step.contract for step in steps):
        raise ServiceUnavailable(
            "the database schema is not the one this version needs; run `gateway migrate`",
            code="schema_outdated",
            details={"database_revision": revision, "required_revision": res.schema_head},
        )
    feed = res.feed.state()
    body: dict[str, object] = {
        "status": "ready",
        "schema_revision": revision,
        "pending_contract": [step.revision for step in steps],
        "change_feed": {"listening": feed.listening, "since": rfc3339(feed.since)},
    }
    if res.siblings is not None:
        # Which of the machine's serving processes answered (``serve --workers``): operators and
        # tests reach each one this way; /readyz never answers on the public port.
        slot = res.siblings.slot
        body["process"] = {"slot": slot.number, "of": slot.count, "pid": os.getpid()}
    return JSONResponse(body)


def _pending(revision: str | None) -> tuple[Step, ...] | None:
    """The steps missing from a database at ``revision``; None when none of them is known
    (never migrated, or by a newer version)."""
    if revision is None:
        return None
    try:
        return pending(revision)
    except UnknownRevision:
        return None
