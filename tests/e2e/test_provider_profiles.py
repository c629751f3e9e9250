"""Provider profiles end to end: a gateway whose providers file names three sandboxes, each
emulating another provider's shape, connected, proxied and refreshed over loopback.

- ``slacklike``: comma-separated scopes, refresh tokens that do not rotate;
- ``jwtco``: ``private_key_jwt`` client authentication, the sandbox checking every assertion against
  the gateway's own ``/.well-known/jwks.json``;
- ``publicco``: a public client (``none``) with PKCE.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.providers.client_key import ASSERTION_TYPE, ClientKey
from gateway.settings import Settings
from gateway.tokens.grant import refresh_token
from gateway_sandbox import SandboxOptions, create_sandbox_app
from gateway_sandbox.jwt import SigningKey
from gateway_sandbox.state.store import SandboxStore
from tests.e2e.flows import open_session, query
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings
from tests.hostile.owner_fixtures import Client, make_client

SCOPES = ("openid", "profile", "meetings:read")
KID = "gateway-test-1"


@dataclass
class Profiles:
    gateway: ServerThread
    sandboxes: dict[str, ServerThread]
    stores: dict[str, SandboxStore]
    settings: Settings
    key_pem: bytes


def provider_table(name: str, url: str, client_id: str, extra: str) -> str:
    return f"""
[providers.{name}]
issuer = "{url}"
api_base_url = "{url}/v1/partner/user"
client_id = "{client_id}"
scopes = {list(SCOPES)!r}
{extra}
""".replace("'", '"')


@pytest.fixture(scope="module")
def profiles(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Profiles]:
    folder = Path(tmp_path_factory.mktemp("profiles"))
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (folder / "client-key.pem").write_bytes(key_pem)
    port = free_port()
    base = SandboxOptions(
        redirect_uris=(f"http://127.0.0.1:{port}/oauth/callback",), auto_approve=True
    )
    shapes = {
        "slacklike": replace(
            base,
            client_id="slack-client",
            client_secrets=("slack-secret",),
            scope_separator=",",
            rotate_refresh_tokens=False,
        ),
        "jwtco": replace(
            base,
            client_id="jwt-client",
            client_authentication="private_key_jwt",
            client_jwks_url=f"http://127.0.0.1:{port}/.well-known/jwks.json",
        ),
        "publicco": replace(base, client_id="public-client", client_authentication="none"),
    }
    signing_key = SigningKey.generate()
    apps = {
        name: create_sandbox_app(options, signing_key=signing_key)
        for name, options in shapes.items()
    }
    sandboxes = {name: ServerThread(app).start() for name, app in apps.items()}
    stores = {name: app.state.sandbox for name, app in apps.items()}
    file = folder / "providers.toml"
    file.write_text(
        provider_table(
            "slacklike",
            sandboxes["slacklike"].url,
            "slack-client",
            'client_secret = "slack-secret"\ntoken_endpoint_auth_method = "client_secret_post"\n'
            'scope_separator = ","\nrefresh = { rotates = false }',
        )
        + provider_table(
            "jwtco",
            sandboxes["jwtco"].url,
            "jwt-client",
            'token_endpoint_auth_method = "private_key_jwt"\n'
            f'client_key = {{ file = "{folder / "client-key.pem"}", algorithm = "ES256", '
            f'kid = "{KID}" }}',
        )
        + provider_table(
            "publicco",
            sandboxes["publicco"].url,
            "public-client",
            'token_endpoint_auth_method = "none"',
        )
    )
    settings = gateway_settings(
        port,
        sandboxes["slacklike"].url,
        providers_file=file,
        providers_allow_loopback_http=True,
    )
    gateway = ServerThread(create_app(settings, database_url), port=port).start()
    try:
        yield Profiles(gateway, sandboxes, stores, settings, key_pem)
    finally:
        gateway.stop()
        for sandbox in sandboxes.values():
            sandbox.stop()


@pytest.fixture
async def http(profiles: Profiles) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=profiles.gateway.url, timeout=10) as client:
        yield client


@pytest.fixture
async def confined(db: Database) -> Client:
    return await make_client(db, ["connect", "proxy"], own_users_only=True)


@pytest.fixture
async def open_(db: Database) -> Client:
    return await make_client(db, ["connect", "proxy"])


@pytest.fixture
async def operator(db: Database) -> Client:
    return await make_client(db, ["admin"])


async def connect(
    http: httpx.AsyncClient, db: Database, client: Client, provider: str
) -> tuple[Connection, str]:
    """Connect a fresh account at ``provider`` for ``client``; the connection and the URL the
    user's browser was sent to."""
    user_id = f"user-{uuid.uuid4().hex[:10]}"
    session = await open_session(
        http, client.key, user_id=user_id, provider=provider, login_hint=f"{user_id}@example.com"
    )
    async with httpx.AsyncClient(timeout=10) as browser:
        opened = await browser.get(session["connect_url"])
        assert opened.status_code == 302, opened.text
        authorize_url = opened.headers["location"]
        approved = await browser.get(authorize_url)
        assert approved.status_code == 302, approved.text
        callback = await browser.get(approved.headers["location"])
        assert callback.status_code == 200, callback.text
    async with db.transaction() as tx:
        connection = await tx.scalar(select(Connection).where(Connection.user_id == user_id))
    assert connection is not None and connection.provider == provider
    return connection, authorize_url


async def proxied_profile(http: httpx.AsyncClient, client: Client, connection: Connection) -> int:
    response = await http.get(f"/proxy/connections/{connection.id}/profile", headers=client.auth)
    return response.status_code


async def refreshed(http: httpx.AsyncClient, operator: Client, connection: Connection) -> None:
    response = await http.post(f"/v1/connections/{connection.id}/refresh", headers=operator.auth)
    assert response.status_code == 200, response.text


async def stored(db: Database, profiles: Profiles, connection: Connection) -> Connection:
    async with db.transaction() as tx:
        found = await tx.get(Connection, connection.id, populate_existing=True)
    assert found is not None
    return found


def keys(profiles: Profiles) -> KeyRing:
    assert profiles.settings.encryption_keys is not None
    return KeyRing.parse(profiles.settings.encryption_keys.get_secret_value())


async def test_a_slack_like_provider_gets_comma_scopes_and_keeps_its_refresh_token(
    http: httpx.AsyncClient, db: Database, profiles: Profiles, confined: Client, operator: Client
) -> None:
    connection, authorize_url = await connect(http, db, confined, "slacklike")
    assert query(authorize_url)["scope"] == ",".join(SCOPES)
    assert tuple(connection.scopes or ()) == SCOPES  # the answer's comma list, read as three
    assert await proxied_profile(http, confined, connection) == 200
    before = refresh_token(keys(profiles), connection)

    await refreshed(http, operator, connection)

    after = await stored(db, profiles, connection)
    assert refresh_token(keys(profiles), after) == before  # the answer had none: kept
    assert after.token_version > connection.token_version
    assert await proxied_profile(http, confined, after) == 200
    await refreshed(http, operator, after)  # the same refresh token refreshes again
    assert profiles.stores["slacklike"].stats()["refresh_successes"] >= 2


async def test_a_private_key_jwt_provider_connects_refreshes_and_proxies(
    http: httpx.AsyncClient, db: Database, profiles: Profiles, open_: Client, operator: Client
) -> None:
    connection, _ = await connect(http, db, open_, "jwtco")
    assert await proxied_profile(http, open_, connection) == 200

    await refreshed(http, operator, connection)

    assert await proxied_profile(http, open_, await stored(db, profiles, connection)) == 200
    assert profiles.stores["jwtco"].stats()["assertions_refused"] == 0


async def test_the_sandbox_refuses_a_replayed_assertion_of_the_gateways_key(
    profiles: Profiles,
) -> None:
    sandbox = profiles.sandboxes["jwtco"].url
    key = ClientKey.from_pem(profiles.key_pem, "ES256", KID)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "cto_rt_v1_unknown",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": key.assertion("jwt-client", f"{sandbox}/oauth2/token"),
    }
    async with httpx.AsyncClient(base_url=sandbox, timeout=10) as client:
        first = await client.post("/oauth2/token", data=form)
        replayed = await client.post("/oauth2/token", data=form)
    assert (first.status_code, first.json()["error"]) == (400, "invalid_grant")  # authenticated
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_client")
    assert "jti" in replayed.json()["error_description"]


async def test_the_gateway_publishes_its_public_key_only(
    http: httpx.AsyncClient, profiles: Profiles
) -> None:
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    [jwk] = response.json()["keys"]
    assert (jwk["kid"], jwk["alg"], jwk["kty"], jwk["crv"]) == (KID, "ES256", "EC", "P-256")
    assert "d" not in jwk
    expected = ClientKey.from_pem(profiles.key_pem, "ES256", KID).public_jwk()
    assert jwk == expected


async def test_a_public_client_connects_with_pkce_and_refreshes(
    http: httpx.AsyncClient, db: Database, profiles: Profiles, confined: Client, operator: Client
) -> None:
    connection, authorize_url = await connect(http, db, confined, "publicco")
    assert query(authorize_url)["code_challenge_method"] == "S256"
    await refreshed(http, operator, connection)
    assert await proxied_profile(http, confined, await stored(db, profiles, connection)) == 200
