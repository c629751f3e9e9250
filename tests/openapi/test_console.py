"""The console, fuzzed without a document (it is HTML for people, so the OpenAPI document leaves it
out): generated path parameters, query strings, form fields and cookies, signed in or not, sent to
both ports of a real ``gateway serve --public-port`` process.

On the internal port every answer is below 500, a page is HTML (the stylesheet CSS), an error made
in JSON is the Error shape, and a redirect stays on this origin; on the public port the console is
the listener's 404. ``CONSOLE`` lists what is fuzzed; test_coverage fails for a console route left
out of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import httpx
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from gateway.kit.db import Database
from gateway.openapi import build
from tests.console.conftest import csrf_of, new_operator
from tests.fixtures.ports import Ports
from tests.openapi.routes import SAMPLES, Operation

CONSOLE: tuple[Operation, ...] = (
    ("GET", "/console/"),
    ("GET", "/console/console.css"),
    ("GET", "/console/sign-in"),
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-out"),
    ("GET", "/console/sso/start"),
    ("GET", "/console/sso/callback"),
    ("GET", "/console/connections"),
    ("GET", "/console/connections/new"),
    ("POST", "/console/connections/new/client-credentials"),
    ("POST", "/console/connections/new/credential"),
    ("GET", "/console/connections/{connection_id}"),
    ("GET", "/console/connections/{connection_id}/revoke"),
    ("POST", "/console/connections/{connection_id}/revoke"),
    ("POST", "/console/connections/{connection_id}/refresh"),
    ("POST", "/console/connections/{connection_id}/verify"),
    ("POST", "/console/connections/{connection_id}/pause"),
    ("POST", "/console/connections/{connection_id}/resume"),
    ("POST", "/console/connections/{connection_id}/edit"),
    ("POST", "/console/connections/{connection_id}/default"),
    ("POST", "/console/connections/{connection_id}/keys"),
    ("GET", "/console/connections/{connection_id}/keys/{key_id}"),
    ("POST", "/console/connections/{connection_id}/keys/{key_id}/revoke"),
    ("GET", "/console/clients"),
    ("POST", "/console/clients"),
    ("GET", "/console/clients/{name}"),
    ("POST", "/console/clients/{name}/edit"),
    ("POST", "/console/clients/{name}/enabled"),
    ("POST", "/console/clients/{name}/key"),
    ("GET", "/console/audit"),
    ("GET", "/console/revocations"),
    ("POST", "/console/revocations"),
    ("GET", "/console/keys"),
    ("GET", "/console/keys/rotation"),
    ("POST", "/console/keys/rotation"),
    ("GET", "/console/subscriptions"),
    ("POST", "/console/subscriptions"),
    ("GET", "/console/subscriptions/{subscription_id}"),
    ("POST", "/console/subscriptions/{subscription_id}/enabled"),
    ("POST", "/console/subscriptions/{subscription_id}/rotate"),
    ("POST", "/console/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay"),
)
EXAMPLES = 15
THOROUGH_EXAMPLES = 300
COOKIE = "gateway_console"
SIGN_OUT = "/console/sign-out"
FIELDS = (
    *("next", "cursor", "user", "match", "status", "provider", "csrf", "key", "reason"),
    *("label", "external_id", "enabled", "older", "done", "fields", "revoked", "kept"),
    *("metadata", "labels", "external_ids", "revision", "ttl_seconds", "allow", "client"),
    *("url", "event_types"),
    *("auth_mode", "user_id", "scopes", "audience", "resources", "owner", "username", "secret"),
    "additional",
    *("name", "own_users_only", "user_pattern", "rate_limit", "burst"),
    *("actor", "action", "connection_id", "since", "until"),
    "confirm",
)
ERROR_SHAPE = jsonschema_rs.validator_for(build()["components"]["schemas"]["Error"])


@pytest.fixture(scope="session")
async def signed_in(ports: Ports, db: Database) -> tuple[str, str]:
    """An operator's console cookie on the process, and the CSRF token of its session."""
    operator = await new_operator(db)
    async with httpx.AsyncClient(base_url=ports.url, timeout=10) as browser:
        form = await browser.get("/console/sign-in")
        answer = await browser.post(
            "/console/sign-in", data={"csrf": csrf_of(form.text), "key": operator.key}
        )
        assert answer.status_code == 303, answer.text
        page = await browser.get("/console/connections")
        assert page.status_code == 200, page.text
        return browser.cookies[COOKIE], csrf_of(page.text)


text = st.text(max_size=40)
# Cookie values as a browser could send them: visible ASCII without separators.
cookie_text = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';,"\\'), max_size=80
)
parameter = st.one_of(st.uuids().map(str), st.just(SAMPLES["connection_id"]), text)
fields = st.dictionaries(st.one_of(st.sampled_from(FIELDS), text), text, max_size=5)


@st.composite
def requests(draw: st.DrawFn, operation: Operation, session: tuple[str, str]) -> httpx.Request:
    method, path = operation
    path = re.sub(r"\{\w+\}", lambda _: quote(draw(parameter), safe=""), path)
    cookie, csrf = session
    cookies = draw(
        st.sampled_from(["signed-in", "none", "forged"]).map(
            lambda kind: {"signed-in": {COOKIE: cookie}, "none": {}, "forged": None}[kind]
        )
    )
    if cookies is None:
        cookies = {COOKIE: draw(cookie_text)}
    query = draw(fields)
    data: dict[str, str] | None = None
    if method == "POST":
        data = draw(fields)
        # Not on sign-out, which would end the session the other examples use.
        if path != SIGN_OUT and draw(st.booleans()):
            data["csrf"] = csrf
    headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}
    return httpx.Request(method, f"http://gateway{path}", params=query, data=data, headers=headers)


def sent(http: httpx.Client, base_url: str, request: httpx.Request) -> httpx.Response:
    url = httpx.URL(base_url).join(request.url.raw_path.decode("ascii"))
    http.cookies.clear()  # only the cookies the example chose
    headers = {name: value for name, value in request.headers.items() if name != "host"}
    return http.request(request.method, url, content=request.content, headers=headers)


def is_sane(response: httpx.Response, method: str, path: str) -> None:
    where = f"{method} {path} answered {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.text[:500]}"
    if response.is_redirect:
        # On this origin: a path, or (Starlette's trailing-slash redirect) this very host.
        location = urlsplit(response.headers["location"])
        assert location.netloc in ("", response.request.url.netloc.decode()), where
        assert location.path.startswith("/console"), where
        return
    media_type = response.headers.get("content-type", "").partition(";")[0]
    if media_type == "application/json":
        assert response.status_code >= 400, where
        assert not list(ERROR_SHAPE.iter_errors(response.json())), where
    else:
        expected = "text/css" if path.endswith(".css") else "text/html"
        assert media_type == expected, f"{where} as {media_type!r}"


def is_hidden(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text[:300]
    assert response.headers["gateway-error"] == "1"
    assert response.json()["error"]["code"] == "not_found"


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def fuzz(
    examples: int,
    operation: Operation,
    ports: Ports,
    session: tuple[str, str],
    http: httpx.Client,
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(request=requests(operation, session))
    def one(request: httpx.Request) -> None:
        note(f"{request.method} {request.url} {request.headers} {request.content!r}")
        is_sane(sent(http, ports.url, request), *operation)
        is_hidden(sent(http, ports.public_url, request))

    one()


@pytest.mark.parametrize("operation", CONSOLE, ids=" ".join)
def test_the_console_answers_generated_requests_sanely_on_both_listeners(
    operation: Operation, ports: Ports, signed_in: tuple[str, str], http: httpx.Client
) -> None:
    fuzz(EXAMPLES, operation, ports, signed_in, http)


@pytest.mark.slow
@pytest.mark.parametrize("operation", CONSOLE, ids=" ".join)
def test_the_console_answers_a_long_hunt_sanely(
    operation: Operation, ports: Ports, signed_in: tuple[str, str], http: httpx.Client
) -> None:
    fuzz(THOROUGH_EXAMPLES, operation, ports, signed_in, http)
