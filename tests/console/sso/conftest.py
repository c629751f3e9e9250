"""The console with single sign-on, on loopback: the sandbox as the company's identity provider and two
gateways signing operators in there. ``main`` has the admin-key sign-in on and re-checks roles every
second, keeping a session up to an hour while the provider is down; ``strict`` has the admin-key
sign-in off and no such grace.

``sso_sign_in`` walks a cookie jar through a sign-in as a browser without JavaScript would."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.console.secret import SigningKeys, signing_keys
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings

KEY_RING = generate_key_entry("sso1")
ROLES = "ops-viewers=viewer,ops-support=support,ops-operators=operator,ops-admins=security"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass(frozen=True)
class SsoStack:
    sandbox: ServerThread
    main: ServerThread
    strict: ServerThread
    signing: SigningKeys  # the console's session keys (both gateways share the key ring)

    def groups(self, email: str, groups: list[str]) -> None:
        """Put ``email`` in ``groups`` at the identity provider (and in no other)."""
        answer = httpx.post(
            f"{self.sandbox.url}/_sandbox/groups", json={"email": email, "groups": groups}
        )
        assert answer.status_code == 200, answer.text

    def age_sign_ins(self, email: str, seconds: int) -> None:
        """Let ``seconds`` pass for ``email``'s sign-ins at the provider."""
        answer = httpx.post(
            f"{self.sandbox.url}/_sandbox/sign-ins/age", json={"email": email, "seconds": seconds}
        )
        assert answer.status_code == 200, answer.text

    def faults(self, **faults: object) -> None:
        answer = httpx.post(f"{self.sandbox.url}/_sandbox/faults", json=faults)
        assert answer.status_code == 200, answer.text

    def reset_faults(self) -> None:
        httpx.delete(f"{self.sandbox.url}/_sandbox/faults").raise_for_status()

    def stat(self, name: str) -> int:
        counts: dict[str, int] = httpx.get(f"{self.sandbox.url}/_sandbox/stats").json()
        return counts[name]


def _gateway(database_url: URL, port: int, sandbox_url: str, **overrides: object) -> ServerThread:
    settings = gateway_settings(
        port,
        sandbox_url,
        encryption_keys=SecretStr(KEY_RING),
        console_oidc_issuer=sandbox_url,
        console_oidc_client_id="sandbox-client",
        console_oidc_client_secret=SecretStr("sandbox-secret"),
        console_oidc_roles=ROLES,
        console_oidc_recheck_seconds=1,
        **overrides,
    )
    return ServerThread(create_app(settings, database_url), port=port).start()


@pytest.fixture(scope="module")
def sso(database_url: URL) -> Iterator[SsoStack]:
    main_port, strict_port = free_port(), free_port()
    options = SandboxOptions(
        redirect_uris=tuple(
            f"http://127.0.0.1:{port}/console/sso/callback" for port in (main_port, strict_port)
        ),
        remember_sign_ins=True,
    )
    with ExitStack() as running:
        sandbox = ServerThread(create_sandbox_app(options)).start()
        running.callback(sandbox.stop)
        main = _gateway(
            database_url, main_port, sandbox.url, console_oidc_recheck_grace_seconds=3600
        )
        running.callback(main.stop)
        strict = _gateway(
            database_url,
            strict_port,
            sandbox.url,
            console_oidc_recheck_grace_seconds=0,
            console_break_glass=False,
        )
        running.callback(strict.stop)
        ring = KeyRing.parse(KEY_RING)
        signing = signing_keys(
            gateway_settings(main_port, sandbox.url, encryption_keys=SecretStr(KEY_RING)),
            ring.active_key_id,
        )
        yield SsoStack(sandbox, main, strict, signing)


async def sso_sign_in(
    browser: httpx.AsyncClient,
    email: str,
    *,
    next_: str = "/console/connections",
    fresh: bool = False,
) -> httpx.Response:
    """Start a sign-in at the gateway, sign in as ``email`` at the provider if it asks (it does not
    while it remembers an earlier sign-in), and return the gateway's answer to the callback."""
    params = {"next": next_, **({"fresh": "1"} if fresh else {})}
    started = await browser.get("/console/sso/start", params=params)
    assert started.status_code == 303, started.text
    return await through_provider(browser, started.headers["location"], email)


async def through_provider(
    browser: httpx.AsyncClient, authorize: str, email: str
) -> httpx.Response:
    """Follow ``authorize`` at the provider (signing in as ``email`` on its page if it shows one)
    back to the gateway's callback; the callback's answer."""
    answer = await browser.get(authorize)
    if answer.status_code == 200:  # the provider's sign-in page
        fields = {name: html.unescape(value) for name, value in HIDDEN.findall(answer.text)}
        consent = authorize.split("/oauth2/authorize")[0] + "/oauth2/consent"
        answer = await browser.post(consent, data={**fields, "email": email, "decision": "approve"})
    assert answer.status_code == 302, answer.text
    return await browser.get(answer.headers["location"])


def new_email() -> str:
    return f"op-{uuid.uuid4().hex[:10]}@corp.example.com"


@pytest.fixture
async def browser(sso: SsoStack) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie jar for the ``main`` gateway (and the provider), signed out."""
    async with httpx.AsyncClient(base_url=sso.main.url, timeout=10) as client:
        yield client
