"""Database trouble is a 503, never a 500: a lost PostgreSQL connection answers ``503
database_unavailable`` with Retry-After on every endpoint, never a 500 and never a reset; an
idempotent read retries once on a fresh connection.

The storm drives a real gateway process over loopback from several service clients (one confined
to its own users, one unconfined, an operator, a browser) while another task terminates the
gateway's PostgreSQL backends again and again; the unit tests below it check the classification
of each shape the driver reports a lost connection in, and the single retry of a read.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.db import Database, lost_connection, sync_url, unavailable
from gateway.webhooks import contio
from tests.hostile.dbdown_fixtures import (
    CONNECTED_USERS,
    WEBHOOK_SECRET,
    BackendKiller,
    Deployment,
    dbdown_database,
    deployment,
)

__all__ = ["dbdown_database", "deployment"]  # fixtures, used by name

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
ROUNDS = 12
RECOVERY_SECONDS = 30.0


@dataclass(frozen=True)
class Probe:
    """One request of one endpoint family, and the status it gets when the database is up."""

    family: str
    method: str
    path: str
    healthy: int
    key: str | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def webhook() -> tuple[bytes, dict[str, str]]:
    event = {
        "event_type": "user.connection.revoked",
        "event_id": f"evt_{uuid.uuid4().hex}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "partner_app_id": "app_sandbox",
        "data": {"connection_id": str(uuid.uuid4())},
        "for_user": {"id": f"nobody-{uuid.uuid4().hex}", "email": "nobody@example.com"},
    }
    body = json.dumps(event).encode()
    return body, {
        "content-type": "application/json",
        "x-contio-signature": contio.signature(WEBHOOK_SECRET, body),
    }


def probes(d: Deployment) -> list[Probe]:
    connection_id = d.connection_ids[0]
    session_body = json.dumps({"user_id": CONNECTED_USERS[0]}).encode()
    json_body = {"content-type": "application/json"}
    html = {"accept": "text/html"}
    body, signed = webhook()
    return [
        Probe(
            "connect session",
            "POST",
            "/v1/connect-sessions",
            201,
            d.unconfined_key,
            session_body,
            json_body,
        ),
        Probe(
            "connect session",
            "POST",
            "/v1/connect-sessions",
            201,
            d.confined_key,
            session_body,
            json_body,
        ),
        Probe("connect page", "GET", "/connect?token=not-a-token", 400, headers=html),
        Probe("callback page", "GET", "/oauth/callback?state=unknown&code=x", 400, headers=html),
        Probe("admin read", "GET", "/v1/connections", 200, d.unconfined_key),
        Probe("admin read", "GET", f"/v1/connections/{connection_id}", 200, d.operator_key),
        Probe("admin read", "GET", "/v1/audit-events", 200, d.operator_key),
        Probe(
            "admin write", "POST", f"/v1/connections/{connection_id}/refresh", 200, d.operator_key
        ),
        Probe("provisioning read", "GET", f"/v1/provisioning/{uuid.uuid4()}", 404, d.confined_key),
        Probe("provisioning page", "GET", f"/provision/{uuid.uuid4()}?token=x", 404, headers=html),
        Probe("webhook", "POST", "/webhooks/contio", 200, body=body, headers=signed),
        Probe("console", "GET", "/console/connections", 200),
        Probe("readiness", "GET", "/readyz", 200),
        Probe("proxy", "GET", f"/proxy/users/{CONNECTED_USERS[1]}/meetings", 200, d.unconfined_key),
        # A user never seen: a cache miss, read from the database on every call.
        Probe(
            "proxy",
            "GET",
            f"/proxy/users/dbdown-miss-{uuid.uuid4().hex}/meetings",
            404,
            d.unconfined_key,
        ),
    ]


async def send(client: httpx.AsyncClient, probe: Probe) -> httpx.Response:
    headers = dict(probe.headers)
    if probe.key is not None:
        headers["authorization"] = f"Bearer {probe.key}"
    path = probe.path
    body = probe.body
    if probe.family == "webhook":  # a new event each time (a replay is answered from memory)
        body, headers = webhook()
    return await client.request(probe.method, path, content=body, headers=headers)


async def signed_in_console(d: Deployment) -> httpx.AsyncClient:
    browser = httpx.AsyncClient(base_url=d.gateway.url, timeout=30, trust_env=False)
    form = await browser.get("/console/sign-in")
    found = CSRF_FIELD.search(form.text)
    assert found is not None, form.text
    signed_in = await browser.post(
        "/console/sign-in", data={"csrf": found.group(1), "key": d.operator_key, "next": ""}
    )
    assert signed_in.status_code == 303, signed_in.text
    return browser


def problem(response: httpx.Response) -> str | None:
    """What is wrong with an answer given while backends are terminated, if anything."""
    status = response.status_code
    if status == 503:
        if "retry-after" not in response.headers:
            return "503 without Retry-After"
        if "database_unavailable" not in response.text:
            return f"503 that is not database_unavailable: {response.text[:200]}"
        return None
    if 200 <= status < 500:
        return None
    return f"{status}: {response.text[:200]}"


async def storm_traffic(
    d: Deployment, console: httpx.AsyncClient, tally: Counter[str], problems: list[str]
) -> None:
    async def worker(index: int) -> None:
        async with httpx.AsyncClient(base_url=d.gateway.url, timeout=30, trust_env=False) as http:
            for _ in range(ROUNDS):
                for probe in probes(d)[index::3]:
                    client = console if probe.family == "console" else http
                    try:
                        response = await send(client, probe)
                    except httpx.TransportError as exc:
                        problems.append(f"{probe.family} {probe.path}: {type(exc).__name__}")
                        continue
                    tally[f"{probe.family} {response.status_code}"] += 1
                    found = problem(response)
                    if found is not None:
                        problems.append(f"{probe.family} {probe.method} {probe.path}: {found}")

    await asyncio.gather(*(worker(index) for index in range(3)))


async def until_healthy(d: Deployment, console: httpx.AsyncClient) -> list[str]:
    """The probes that still fail once the storm is over, after waiting for them up to a deadline."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    pending = probes(d)
    still: list[tuple[Probe, httpx.Response]] = []
    async with httpx.AsyncClient(base_url=d.gateway.url, timeout=30, trust_env=False) as http:
        while pending and time.monotonic() < deadline:
            still = []
            for probe in pending:
                client = console if probe.family == "console" else http
                response = await send(client, probe)
                if response.status_code != probe.healthy:
                    still.append((probe, response))
            pending = [probe for probe, _ in still]
            if pending:
                await asyncio.sleep(0.1)
    return [f"{p.family} {p.method} {p.path}: {r.status_code} {r.text[:120]}" for p, r in still]


async def test_terminated_backends_under_traffic_get_503s_never_500s_or_resets(
    deployment: Deployment,
) -> None:
    d = deployment
    console = await signed_in_console(d)
    log_before = d.gateway.log_path.read_text()
    tally: Counter[str] = Counter()
    problems: list[str] = []
    killer = BackendKiller(d.database_url)
    killing = asyncio.create_task(killer.run())
    try:
        await storm_traffic(d, console, tally, problems)
    finally:
        killer.stop.set()
        await killing
    try:
        assert problems == [], (problems[:20], tally)
        assert killer.terminated > 0
        assert sum(count for name, count in tally.items() if name.endswith(" 503")) > 0, tally
        # Every answer was a whole HTTP response on a connection the server kept open: nothing
        # escaped to uvicorn (which closes the connection) and nothing was answered as a bug.
        during = d.gateway.log_path.read_text()[len(log_before) :]
        assert "Exception in ASGI application" not in during
        assert "unhandled error" not in during
        assert await until_healthy(d, console) == []
    finally:
        await console.aclose()


# The classification, for each shape a lost or refused connection takes.


def wrapped(orig: Exception, *, invalidated: bool) -> sqlalchemy.exc.DBAPIError:
    """``orig`` as SQLAlchemy raises it from a statement (its cause, as the dialect chains it)."""
    error = sqlalchemy.exc.DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)
    error.__cause__ = orig
    return error


def admin_shutdown() -> Exception:
    error: Exception = asyncpg.exceptions.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    )
    error.__cause__ = asyncpg.exceptions.AdminShutdownError(
        "terminating connection due to administrator command"
    )
    return error


UNAVAILABLE: list[tuple[str, Callable[[], BaseException]]] = [
    (
        "terminated backend, as SQLAlchemy wraps it",
        lambda: wrapped(admin_shutdown(), invalidated=True),
    ),
    ("terminated backend, raw", admin_shutdown),
    (
        "connection already closed",
        lambda: asyncpg.exceptions.InterfaceError("connection is closed"),
    ),
    (
        "protocol out of step after a termination",
        lambda: wrapped(
            asyncpg.exceptions.InternalClientError(
                "cannot switch to state 15; another operation (2) is in progress"
            ),
            invalidated=False,
        ),
    ),
    ("server shutting down", lambda: asyncpg.exceptions.AdminShutdownError("shutdown")),
    ("server crashed", lambda: asyncpg.exceptions.CrashShutdownError("crash")),
    ("server starting up", lambda: asyncpg.exceptions.CannotConnectNowError("starting")),
    ("idle session reaped", lambda: asyncpg.exceptions.IdleSessionTimeoutError("idle")),
    ("too many connections", lambda: asyncpg.exceptions.TooManyConnectionsError("full")),
    (
        "a standby after failover",
        lambda: wrapped(
            asyncpg.exceptions.ReadOnlySQLTransactionError("read-only"), invalidated=False
        ),
    ),
    ("pool exhausted", lambda: sqlalchemy.exc.TimeoutError("QueuePool limit reached")),
    (
        "sqlalchemy operational",
        lambda: sqlalchemy.exc.OperationalError("SELECT 1", None, Exception("x")),
    ),
    (
        "sqlalchemy interface",
        lambda: sqlalchemy.exc.InterfaceError("SELECT 1", None, Exception("x")),
    ),
    ("connection reset", lambda: ConnectionResetError(104, "Connection reset by peer")),
    ("connection refused", lambda: ConnectionRefusedError(111, "Connect call failed")),
    ("host unreachable", lambda: OSError(113, "Connect call failed")),
    ("several addresses failed", lambda: OSError("Multiple exceptions: ...")),
    ("connect timed out", TimeoutError),
]


def rollback_failed_after_loss() -> BaseException:
    """An error raised while a transaction was being rolled back after its connection was lost."""
    try:
        raise wrapped(admin_shutdown(), invalidated=True)
    except sqlalchemy.exc.DBAPIError:
        try:
            raise sqlalchemy.exc.InvalidRequestError("rollback on a closed transaction")
        except sqlalchemy.exc.InvalidRequestError as during_rollback:
            return during_rollback


UNAVAILABLE.append(("error during the rollback after a loss", rollback_failed_after_loss))

BUGS: list[tuple[str, Callable[[], BaseException]]] = [
    ("a bug in our code", lambda: KeyError("x")),
    (
        "a constraint",
        lambda: wrapped(
            asyncpg.exceptions.UniqueViolationError("duplicate key"), invalidated=False
        ),
    ),
    (
        "a syntax error",
        lambda: wrapped(asyncpg.exceptions.PostgresSyntaxError("syntax"), invalidated=False),
    ),
    ("a missing file", lambda: FileNotFoundError(2, "no such file")),
    ("sqlalchemy misuse", lambda: sqlalchemy.exc.InvalidRequestError("misuse")),
]


@pytest.mark.parametrize(("shape", "make"), UNAVAILABLE, ids=[name for name, _ in UNAVAILABLE])
def test_each_shape_of_a_lost_or_refused_connection_is_unavailable(
    shape: str, make: Callable[[], BaseException]
) -> None:
    assert unavailable(make()), shape


@pytest.mark.parametrize(("shape", "make"), BUGS, ids=[name for name, _ in BUGS])
def test_errors_that_are_not_an_outage_stay_bugs(
    shape: str, make: Callable[[], BaseException]
) -> None:
    error = make()
    assert not unavailable(error), shape
    assert not lost_connection(error), shape


# Against the real server: what a terminated backend raises, and the retry of a read.


async def terminate(database_url: URL, pid: int) -> None:
    admin = await asyncpg.connect(sync_url(database_url.set(database="postgres")))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def wait_gone(database_url: URL, pid: int) -> None:
    """Until the server no longer lists ``pid`` (its termination has been processed)."""
    admin = await asyncpg.connect(sync_url(database_url.set(database="postgres")))
    try:
        deadline = time.monotonic() + 10
        while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            assert time.monotonic() < deadline, f"backend {pid} still running"
            await asyncio.sleep(0.02)
    finally:
        await admin.close()


async def own_pid(session: AsyncSession) -> int:
    pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


@pytest.fixture
async def fresh_db(dbdown_database: URL) -> AsyncIterator[Database]:
    db = Database(dbdown_database, pool_size=1)
    yield db
    await db.dispose()


async def test_a_terminated_backend_mid_transaction_is_classified_unavailable(
    fresh_db: Database, dbdown_database: URL
) -> None:
    pids: list[int] = []

    async def lose_the_connection() -> None:
        async with fresh_db.transaction() as session:
            pids.append(await own_pid(session))
            await terminate(dbdown_database, pids[0])
            await wait_gone(dbdown_database, pids[0])
            await session.execute(text("SELECT 1"))

    with pytest.raises(sqlalchemy.exc.DBAPIError) as raised:
        await lose_the_connection()
    assert unavailable(raised.value), repr(raised.value)
    assert raised.value.connection_invalidated
    # The lost connection was thrown away: the next transaction runs on a new backend.
    async with fresh_db.transaction() as session:
        assert await own_pid(session) != pids[0]


async def test_a_read_retries_once_on_a_fresh_connection_when_its_backend_is_terminated(
    fresh_db: Database, dbdown_database: URL
) -> None:
    pids: list[int] = []

    async def read(session: AsyncSession) -> int:
        pid = await own_pid(session)
        pids.append(pid)
        if len(pids) == 1:
            await terminate(dbdown_database, pid)
            await wait_gone(dbdown_database, pid)
        value = await session.scalar(text("SELECT 41 + 1"))
        assert isinstance(value, int)
        return value

    assert await fresh_db.read(read) == 42
    assert len(pids) == 2 and pids[0] != pids[1], pids


async def test_a_read_is_retried_only_once(fresh_db: Database, dbdown_database: URL) -> None:
    pids: list[int] = []

    async def read(session: AsyncSession) -> None:
        pid = await own_pid(session)
        pids.append(pid)
        await terminate(dbdown_database, pid)
        await wait_gone(dbdown_database, pid)
        await session.execute(text("SELECT 1"))

    with pytest.raises(sqlalchemy.exc.DBAPIError) as raised:
        await fresh_db.read(read)
    assert unavailable(raised.value)
    assert len(pids) == 2 and pids[0] != pids[1], pids


async def test_a_read_that_fails_for_another_reason_is_not_retried(fresh_db: Database) -> None:
    attempts: list[int] = []

    async def read(session: AsyncSession) -> None:
        attempts.append(1)
        await session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(sqlalchemy.exc.ProgrammingError) as raised:
        await fresh_db.read(read)
    assert not unavailable(raised.value)
    assert attempts == [1]


async def test_a_write_persists_through_terminated_backends_until_it_lands(
    fresh_db: Database, dbdown_database: URL
) -> None:
    pids: list[int] = []

    async def write(session: AsyncSession) -> int:
        pid = await own_pid(session)
        pids.append(pid)
        if len(pids) <= 2:
            await terminate(dbdown_database, pid)
            await wait_gone(dbdown_database, pid)
        value = await session.scalar(text("SELECT 41 + 1"))
        assert isinstance(value, int)
        return value

    assert await fresh_db.persist(write, within=30) == 42
    assert len(pids) == 3 and len(set(pids)) == 3, pids


async def test_a_write_gives_up_on_an_outage_after_its_time(
    fresh_db: Database, dbdown_database: URL
) -> None:
    pids: list[int] = []

    async def write(session: AsyncSession) -> None:
        pid = await own_pid(session)
        pids.append(pid)
        await terminate(dbdown_database, pid)
        await wait_gone(dbdown_database, pid)
        await session.execute(text("SELECT 1"))

    with pytest.raises(sqlalchemy.exc.DBAPIError) as raised:
        await fresh_db.persist(write, within=0.01)
    assert unavailable(raised.value)
    assert len(pids) == 1, pids


async def test_a_write_that_fails_for_another_reason_is_not_tried_again(
    fresh_db: Database,
) -> None:
    attempts: list[int] = []

    async def write(session: AsyncSession) -> None:
        attempts.append(1)
        await session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(sqlalchemy.exc.ProgrammingError):
        await fresh_db.persist(write, within=30)
    assert attempts == [1]
