"""Small holes, tried from the outside against a real gateway and a real sandbox on loopback:

- a console cookie with bytes outside ASCII is no session (signed out), never a 500;
- a ``return_url`` or a console ``next`` that steps out of its allowed prefix through dot segments,
  plain or percent-encoded, is refused;
- JSON nested ten thousand deep is a 400 on every endpoint of the sandbox and of the gateway that
  reads JSON (the Contio webhook included), never a 500.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from starlette.routing import Mount, Route

from gateway.kit.db import Database
from gateway.webhooks import contio
from tests.console.conftest import csrf_of, new_operator
from tests.fixtures.stack import new_client
from tests.hostile.claim_fixtures import WEBHOOK_SECRET, GatedStack, gated, gw, sandbox

__all__ = ["gated", "gw", "sandbox"]  # fixtures

KEY_ID = "test1"  # the gateway's active encryption key id (tests.fixtures.stack)
DEEP = 10_000


async def raw_request(url: str, request: bytes) -> int:
    """Send ``request`` as it is over a socket; the status code of the answer."""
    target = httpx.URL(url)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        writer.write(request)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1])


# -- console cookies -------------------------------------------------------------------------------

PAYLOAD = base64.urlsafe_b64encode(b'{"csrf":"x","seen":1}').rstrip(b"=")
COOKIES = [
    b"gateway_console=" + KEY_ID.encode() + b"." + PAYLOAD + b".\xe9\xe9\xe9",  # Latin-1 MAC
    b"gateway_console=" + KEY_ID.encode() + b".\xff\xfe." + b"A" * 43,  # not UTF-8 at all
    b"gateway_console=\xc3\xa9." + PAYLOAD + b".abc",  # UTF-8 key id
    b"gateway_console=" + KEY_ID.encode() + b"." + PAYLOAD + b".\xe2\x80\x8b" + b"A" * 40,
]
CONSOLE_REQUESTS = [
    (b"GET", b"/console/connections", 303),
    (b"GET", b"/console/sign-in", 200),
    (b"POST", b"/console/sign-in", 403),
    (b"POST", b"/console/sign-out", 303),
]


@pytest.mark.parametrize("cookie", COOKIES, ids=["latin1-mac", "not-utf8", "key-id", "zwsp"])
@pytest.mark.parametrize(("method", "path", "expected"), CONSOLE_REQUESTS)
async def test_a_console_cookie_outside_ascii_is_signed_out(
    gated: GatedStack, cookie: bytes, method: bytes, path: bytes, expected: int
) -> None:
    body = b"csrf=x&key=nothing"
    request = (
        method + b" " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Cookie: " + cookie + b"\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    assert await raw_request(gated.gateway.url, request) == expected


# -- dot segments ----------------------------------------------------------------------------------

# Each steps out of the prefix it is appended to, once a browser or a server resolves it.
ESCAPES = [
    "/../admin",
    "/./../admin",
    "/x/../../admin",
    "/..",
    "/.",
    "/%2e%2e/admin",
    "/%2E%2E/admin",
    "/%2e./admin",
    "/.%2e/admin",
    "/%2E./admin",
    "/.%2E/admin",
    "/..%2fadmin",
    "/..%2Fadmin",
    "%2f..%2fadmin",
    "/x%2f..%2f..%2fadmin",
    "/..%5cadmin",
    "/..\\admin",
    "/x\\..\\..\\admin",
    "/%252e%252e/admin",
    "/%25252e%25252e/admin",
    "/..;/admin",
    "/%2e%2e;x/admin",
    "/.../admin",
]


@pytest.mark.parametrize("tail", ESCAPES)
async def test_a_return_url_with_dot_segments_is_refused(
    gated: GatedStack, gw: httpx.AsyncClient, db: Database, tail: str
) -> None:
    key = await new_client(db, ["connect"])
    response = await gw.post(
        "/v1/connect-sessions",
        json={"user_id": "u-dots", "return_url": "https://app.example.com/settings" + tail},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "return_url_not_allowed"


async def test_a_return_url_below_the_prefix_is_still_allowed(
    gated: GatedStack, gw: httpx.AsyncClient, db: Database
) -> None:
    key = await new_client(db, ["connect"])
    for url in (
        "https://app.example.com/settings/a.b/..c/x%20y?next=../up",
        "https://app.example.com/settings/x%2fy",
    ):
        response = await gw.post(
            "/v1/connect-sessions",
            json={"user_id": "u-dots", "return_url": url},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 201, response.text


@pytest.fixture
async def operator_browser(gated: GatedStack, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in to the console as an operator."""
    operator = await new_operator(db)
    async with httpx.AsyncClient(base_url=gated.gateway.url, timeout=10) as browser:
        form = await browser.get("/console/sign-in")
        signed_in = await browser.post(
            "/console/sign-in", data={"csrf": csrf_of(form.text), "key": operator.key, "next": ""}
        )
        assert signed_in.status_code == 303, signed_in.text
        yield browser


@pytest.mark.parametrize("tail", ESCAPES)
async def test_a_console_next_with_dot_segments_goes_home(
    operator_browser: httpx.AsyncClient, tail: str
) -> None:
    response = await operator_browser.get(
        "/console/sign-in", params={"next": "/console/connections" + tail}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/connections"


async def test_a_console_next_below_the_console_is_followed(
    operator_browser: httpx.AsyncClient,
) -> None:
    target = "/console/connections?q=" + quote("a/../b")
    response = await operator_browser.get("/console/sign-in", params={"next": target})
    assert (response.status_code, response.headers["location"]) == (303, target)


# -- deeply nested JSON ----------------------------------------------------------------------------

NESTED = [
    b"[" * DEEP,
    b"[" * DEEP + b"]" * DEEP,
    b'{"user_id": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    b'{"a": ' + b'{"a": ' * 900 + b"1" + b"}" * 901,  # parses in Python, still far too deep
]


def sandbox_body_routes(stack: GatedStack) -> list[tuple[str, str]]:
    """Every (method, path) of the sandbox that may take a body, path parameters filled in."""
    found: list[tuple[str, str]] = []

    def walk(routes: list[object], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(list(route.routes), prefix + route.path)
            elif isinstance(route, Route):
                path = prefix + route.path
                for name in route.param_convertors:
                    path = path.replace("{" + name + "}", str(uuid.uuid4()))
                found.extend(
                    (method, path) for method in sorted((route.methods or set()) - {"GET", "HEAD"})
                )

    walk(list(stack.sandbox_app.routes), "")
    return found


# Those that read a JSON object (the others take a form or no body at all).
SANDBOX_JSON = {
    ("POST", "/oauth2/authorize"),
    ("POST", "/oauth2/check-consent"),
    ("POST", "/auth/initiate"),
    ("POST", "/auth/verify"),
    ("POST", "/v1/partner/user/meetings"),
    ("PATCH", "/v1/partner/user/meetings/{}"),
    ("POST", "/v1/partner/user/meetings/{}/participants"),
    ("POST", "/v1/partner/user/meetings/{}/agenda-items"),
    ("PATCH", "/v1/partner/user/meetings/{}/agenda-items/{}"),
    ("PUT", "/v1/partner/user/meetings/{}/agenda-items/{}"),
    ("POST", "/v1/partner/user/action-items"),
    ("PATCH", "/v1/partner/user/action-items/{}"),
    ("PUT", "/v1/partner/user/action-items/{}"),
    ("POST", "/_sandbox/faults"),
    ("POST", "/_sandbox/connections/revoke"),
    ("POST", "/_sandbox/grants"),
}


def shape(path: str) -> str:
    return "/".join("{}" if len(part) == 36 else part for part in path.split("/"))


async def test_the_sandbox_answers_deep_json_with_400_on_every_endpoint(
    gated: GatedStack, sandbox: httpx.AsyncClient
) -> None:
    granted = await sandbox.post(
        "/_sandbox/grants",
        json={
            "email": f"deep-{uuid.uuid4().hex[:8]}@example.com",
            "count": 1,
            "scope": "openid meetings:read meetings:write action-items:read action-items:write",
        },
    )
    assert granted.status_code == 200, granted.text
    bearer = f"Bearer {granted.json()['grants'][0]['access_token']}"
    basic = "Basic " + base64.b64encode(b"sandbox-client:sandbox-secret").decode()
    routes = sandbox_body_routes(gated)
    assert {(method, shape(path)) for method, path in routes} >= SANDBOX_JSON
    for method, path in routes:
        auth = bearer if path.startswith("/v1/partner/user/") else basic
        headers = {
            "Authorization": auth,
            "X-API-Key": "sandbox-admin-key",
            "Content-Type": "application/json",
        }
        for body in NESTED:
            response = await sandbox.request(method, path, content=body, headers=headers)
            assert response.status_code < 500, (method, path, response.text[:200])
            if (method, shape(path)) in SANDBOX_JSON:
                assert response.status_code == 400, (method, path, response.text[:200])


async def test_the_gateway_answers_deep_json_with_400(
    gated: GatedStack, gw: httpx.AsyncClient, db: Database
) -> None:
    connect = {"Authorization": f"Bearer {await new_client(db, ['connect'])}"}
    admin = {"Authorization": f"Bearer {await new_client(db, ['admin'])}"}
    endpoints = [
        ("/v1/connect-sessions", connect),
        ("/v1/provisioning", connect),
        (f"/v1/provisioning/{uuid.uuid4()}/verify", connect),
        ("/v1/connections/import", admin),
    ]
    for path, headers in endpoints:
        for body in NESTED:
            response = await gw.post(
                path, content=body, headers={**headers, "Content-Type": "application/json"}
            )
            assert response.status_code == 400, (path, response.text[:200])
            assert response.json()["error"]["code"] in ("invalid_json", "validation_error")


async def test_the_gateway_answers_deep_json_in_a_signed_webhook_with_400(
    gw: httpx.AsyncClient,
) -> None:
    for body in NESTED:
        response = await gw.post(
            "/webhooks/contio",
            content=body,
            headers={
                "Content-Type": "application/json",
                contio.SIGNATURE_HEADER: contio.signature(WEBHOOK_SECRET, body),
            },
        )
        assert response.status_code == 400, response.text[:200]
