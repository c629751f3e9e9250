"""Signing in with one's own admin key, the session cookie, its expiry, and signing out."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from gateway.clients.store import ClientChanges, update_client
from gateway.console import console_sessions as sessions
from gateway.console.secret import SigningKeys
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import AuditEvent
from tests.console.conftest import Admin, csrf_of, new_operator, sign_in
from tests.fixtures.stack import Stack, gateway_settings

REFUSED = "This key cannot sign in to the console."
HOST = "127.0.0.1"  # the stack listens there; the jar keys its cookies by host


def set_cookie_header(response: httpx.Response) -> str:
    headers = response.headers.get_list("set-cookie")
    console = [h for h in headers if h.startswith(f"{sessions.COOKIE}=")]
    assert len(console) == 1, headers
    return console[0]


async def actions_by(db: Database, actor: str) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.actor == actor)
            .order_by(AuditEvent.occurred_at, AuditEvent.action)
        )
        return list(rows)


async def test_an_admin_key_signs_in_and_the_pages_name_the_operator(
    browser: httpx.AsyncClient, operator: Admin, db: Database
) -> None:
    response = await sign_in(browser, operator.key)

    assert response.status_code == 303
    assert response.headers["location"] == "/console/connections"
    page = await browser.get("/console/connections")
    assert page.status_code == 200
    assert f'<strong id="operator">{operator.name}</strong>' in page.text
    assert await actions_by(db, operator.actor) == ["console.signed_in"]


async def test_the_session_cookie_is_httponly_lax_and_scoped_to_the_console(
    browser: httpx.AsyncClient, operator: Admin
) -> None:
    cookie = set_cookie_header(await sign_in(browser, operator.key)).lower()

    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/console" in cookie
    assert "max-age=1800" in cookie
    assert "secure" not in cookie  # the stack's public URL is http


def test_the_cookie_is_secure_when_the_public_url_is_https(stack: Stack) -> None:
    https = gateway_settings(0, stack.sandbox.url, public_url="https://gateway.example.com")
    assert sessions.secure(https) is True
    assert sessions.secure(stack.settings) is False
    forced = stack.settings.model_copy(update={"console_secure_cookie": True})
    assert sessions.secure(forced) is True


async def test_a_wrong_key_shows_the_sign_in_page_again_without_detail(
    browser: httpx.AsyncClient, operator: Admin
) -> None:
    wrong = operator.key[:-4] + "AAAA"
    response = await sign_in(browser, wrong)

    assert response.status_code == 403
    assert REFUSED in response.text
    assert wrong not in response.text and operator.key[:-4] not in response.text
    assert 'id="sign-in"' in response.text
    assert (await browser.get("/console/connections")).status_code == 303


@pytest.mark.parametrize("scopes", [("connect", "proxy"), ("proxy",)])
async def test_a_key_without_the_admin_scope_is_refused_alike(
    browser: httpx.AsyncClient, db: Database, scopes: tuple[str, ...]
) -> None:
    other = await new_operator(db, scopes)

    response = await sign_in(browser, other.key)

    assert response.status_code == 403
    assert REFUSED in response.text
    assert (await browser.get("/console/connections")).status_code == 303


@pytest.mark.parametrize(
    "path", ["/console/connections", "/console/clients", f"/console/connections/{uuid.uuid4()}"]
)
async def test_signed_out_pages_send_to_sign_in_and_back(
    browser: httpx.AsyncClient, operator: Admin, path: str
) -> None:
    response = await browser.get(path)

    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/console/sign-in?next=")
    form = await browser.get(location)
    signed = await browser.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form.text), "key": operator.key, "next": path},
    )
    assert signed.headers["location"] == path


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/console\\@evil.example", "/v1/x"]
)
async def test_sign_in_never_sends_elsewhere_than_the_console(
    browser: httpx.AsyncClient, operator: Admin, target: str
) -> None:
    form = await browser.get("/console/sign-in")
    response = await browser.post(
        "/console/sign-in", data={"csrf": csrf_of(form.text), "key": operator.key, "next": target}
    )
    assert response.headers["location"] == "/console/connections"


async def test_signing_out_ends_the_session(
    console: httpx.AsyncClient, operator: Admin, db: Database
) -> None:
    page = await console.get("/console/connections")

    response = await console.post("/console/sign-out", data={"csrf": csrf_of(page.text)})

    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in"
    assert "max-age=0" in set_cookie_header(response).lower()
    assert (await console.get("/console/connections")).status_code == 303
    assert await actions_by(db, operator.actor) == ["console.signed_in", "console.signed_out"]


def old_cookie(signing: SigningKeys, session: sessions.Session, *, seconds_ago: int) -> str:
    then = int((utcnow() - timedelta(seconds=seconds_ago)).timestamp())
    aged = sessions.Session(
        csrf=session.csrf,
        seen_at=then,
        client_id=session.client_id,
        key_check=session.key_check,
        signed_in_at=then if session.signed_in_at is None else session.signed_in_at,
    )
    return sessions.encode(aged, signing)


def current_session(console: httpx.AsyncClient, signing: SigningKeys) -> sessions.Session:
    found = sessions.decode(console.cookies[sessions.COOKIE], signing)
    assert found is not None
    return found


async def test_a_session_idle_past_the_timeout_is_over(
    console: httpx.AsyncClient, signing: SigningKeys, stack: Stack
) -> None:
    session = current_session(console, signing)
    idle = stack.settings.console_idle_timeout_seconds
    console.cookies.set(
        sessions.COOKIE,
        old_cookie(signing, session, seconds_ago=idle - 60),
        domain=HOST,
        path="/console",
    )
    assert (await console.get("/console/connections")).status_code == 200

    console.cookies.set(
        sessions.COOKIE,
        old_cookie(signing, session, seconds_ago=idle + 1),
        domain=HOST,
        path="/console",
    )
    response = await console.get("/console/connections")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/sign-in")


async def test_each_page_view_slides_the_idle_timeout(
    console: httpx.AsyncClient, signing: SigningKeys, stack: Stack
) -> None:
    session = current_session(console, signing)
    idle = stack.settings.console_idle_timeout_seconds
    console.cookies.set(
        sessions.COOKIE,
        old_cookie(signing, session, seconds_ago=idle - 60),
        domain=HOST,
        path="/console",
    )

    await console.get("/console/clients")

    renewed = current_session(console, signing)
    assert renewed.seen_at >= int(utcnow().timestamp()) - 5
    assert renewed.signed_in_at == session.signed_in_at


async def test_a_session_ends_at_its_maximum_age_even_when_in_use(
    console: httpx.AsyncClient, signing: SigningKeys, stack: Stack
) -> None:
    session = current_session(console, signing)
    started = int(utcnow().timestamp()) - stack.settings.console_session_max_seconds - 1
    busy = sessions.Session(
        csrf=session.csrf,
        seen_at=int(utcnow().timestamp()),
        client_id=session.client_id,
        key_check=session.key_check,
        signed_in_at=started,
    )
    console.cookies.set(
        sessions.COOKIE, sessions.encode(busy, signing), domain=HOST, path="/console"
    )

    assert (await console.get("/console/connections")).status_code == 303


async def test_a_tampered_or_foreign_cookie_is_no_session(
    console: httpx.AsyncClient, signing: SigningKeys
) -> None:
    cookie = console.cookies[sessions.COOKIE]
    key_id, payload, mac = cookie.split(".")
    forged = f"{key_id}.{payload}A.{mac}"
    console.cookies.set(sessions.COOKIE, forged, domain=HOST, path="/console")
    assert (await console.get("/console/connections")).status_code == 303

    other = SigningKeys({key_id: b"\x00" * 32}, key_id)
    session = sessions.decode(cookie, signing)
    assert session is not None
    console.cookies.set(
        sessions.COOKIE, sessions.encode(session, other), domain=HOST, path="/console"
    )
    assert (await console.get("/console/connections")).status_code == 303


async def test_disabling_the_operators_client_ends_their_session(
    console: httpx.AsyncClient, operator: Admin, db: Database
) -> None:
    assert (await console.get("/console/connections")).status_code == 200

    async with db.transaction() as session:
        await update_client(session, operator.name, ClientChanges(disabled=True))

    assert (await console.get("/console/connections")).status_code == 303


async def test_losing_the_admin_scope_ends_the_session(
    console: httpx.AsyncClient, operator: Admin, db: Database
) -> None:
    async with db.transaction() as session:
        await update_client(
            session,
            operator.name,
            ClientChanges(add_scopes=["connect"], remove_scopes=["admin"]),
        )

    assert (await console.get("/console/connections")).status_code == 303


def test_signing_keys_never_print(stack: Stack, signing: SigningKeys) -> None:
    assert "***" in repr(signing)
    for key in signing.keys.values():
        assert key.hex() not in repr(signing)


def test_the_console_keys_differ_from_the_encryption_keys(
    stack: Stack, signing: SigningKeys
) -> None:
    assert stack.settings.encryption_keys is not None
    for entry in stack.settings.encryption_keys.get_secret_value().split(","):
        key_id, _, encoded = entry.partition(":")
        assert signing.keys[key_id] != base64.b64decode(encoded)
