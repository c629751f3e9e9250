"""Finding a provider's endpoints from its issuer: OpenID Connect Discovery, then RFC 8414.

Every failure here is ``ProviderUnavailable``: the provider is configured, we just cannot learn its
endpoints right now, and the next use tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from gateway.providers.client_key import ClientKey
from gateway.providers.config import ProviderConfig
from gateway.providers.errors import (
    ProviderUnavailable,
    json_body,
    transport_error,
    unavailable_from_response,
)
from gateway.providers.profile import DEFAULT_PROFILE, ApiProfile

OIDC_PATH = "/.well-known/openid-configuration"
RFC8414_PATH = "/.well-known/oauth-authorization-server"


@dataclass(frozen=True)
class ServerMetadata:
    """The part of an authorization server's metadata the gateway uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    jwks_uri: str | None = None
    end_session_endpoint: str | None = None


def metadata_urls(issuer: str) -> tuple[str, str]:
    """The OIDC and the RFC 8414 metadata URL of ``issuer``, in the order they are tried."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oidc = urlunsplit((parts.scheme, parts.netloc, path + OIDC_PATH, "", ""))
    # RFC 8414 §3 puts the well-known segment between the host and the issuer's path.
    rfc8414 = urlunsplit((parts.scheme, parts.netloc, RFC8414_PATH + path, "", ""))
    return oidc, rfc8414


async def discover(http: httpx.AsyncClient, issuer: str, *, provider: str) -> ServerMetadata:
    """Fetch and check the metadata of ``issuer``; ProviderUnavailable when none can be had."""
    tried: list[str] = []
    for url in metadata_urls(issuer):
        try:
            response = await http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise transport_error(provider, "metadata discovery", exc) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise unavailable_from_response(provider, "metadata discovery", response)
        if response.status_code != 200:
            tried.append(f"{url} answered HTTP {response.status_code}")
            continue
        return _read(json_body(response), issuer=issuer, url=url, provider=provider)
    raise ProviderUnavailable(
        f"{provider} metadata discovery failed: {'; '.join(tried)}", provider=provider
    )


def _read(body: object, *, issuer: str, url: str, provider: str) -> ServerMetadata:
    def fail(reason: str) -> ProviderUnavailable:
        return ProviderUnavailable(f"{provider} metadata at {url} {reason}", provider=provider)

    if not isinstance(body, dict):
        raise fail("is not a JSON object")
    # A document naming another issuer could be an attacker's; both specs require this check.
    if body.get("issuer") != issuer:
        raise fail(f"names issuer {str(body.get('issuer'))[:100]!r}, expected {issuer!r}")

    # An https issuer's endpoints are https too; plain http only where the issuer is (loopback tests).
    schemes = ("https",) if urlsplit(issuer).scheme == "https" else ("https", "http")

    def endpoint(key: str) -> str | None:
        value = body.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or urlsplit(value).scheme not in schemes:
            raise fail(f"has an unusable {key}")
        return value

    def required(key: str) -> str:
        value = endpoint(key)
        if value is None:
            raise fail(f"has no {key}")
        return value

    return ServerMetadata(
        issuer=issuer,
        authorization_endpoint=required("authorization_endpoint"),
        token_endpoint=required("token_endpoint"),
        revocation_endpoint=endpoint("revocation_endpoint"),
        introspection_endpoint=endpoint("introspection_endpoint"),
        userinfo_endpoint=endpoint("userinfo_endpoint"),
        jwks_uri=endpoint("jwks_uri"),
        end_session_endpoint=endpoint("end_session_endpoint"),
    )


@dataclass(frozen=True)
class DiscoveredProvider:
    """A provider known by its issuer; ``build`` makes its config once the metadata is fetched.

    The other fields are what the gateway must know before any network call (``client_key``: for
    ``/.well-known/jwks.json``, which publishes its public half).
    """

    name: str
    issuer: str
    api_base_url: str
    scopes: tuple[str, ...]
    pkce: bool
    build: Callable[[ServerMetadata], ProviderConfig]
    client_key: ClientKey | None = None
    profile: ApiProfile = DEFAULT_PROFILE
