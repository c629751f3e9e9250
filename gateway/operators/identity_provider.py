"""The company's identity provider, where operators sign in to the console (OpenID Connect).

It is an OAuth client like the providers' (``gateway.providers.OAuthClient``): discovery from its
issuer, the authorization code flow with PKCE, and its ID tokens checked by the same validator. What
is the operators' own is here: which of the provider's claims give which role, and who an operator
is once signed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from gateway.operators.roles import Role
from gateway.providers.client import OAuthClient
from gateway.providers.config import ProviderConfig
from gateway.providers.discovery import DiscoveredProvider, ServerMetadata
from gateway.settings import Settings

NAME = "console-sso"


def callback_url(settings: Settings) -> str:
    """The console's redirect URI, to register at the identity provider."""
    return f"{settings.public_url}/console/sso/callback"


def signed_out_url(settings: Settings) -> str:
    """Where the identity provider sends the browser back after signing out there."""
    return f"{settings.public_url}/console/sign-in"


def identity_provider(settings: Settings, http: httpx.AsyncClient) -> OAuthClient | None:
    """The console's identity provider; None unless ``console_oidc_issuer`` is set. Nothing is
    fetched here: its metadata is discovered on the first sign-in."""
    issuer = settings.console_oidc_issuer
    client_id = settings.console_oidc_client_id
    if issuer is None or client_id is None:
        return None
    secret = settings.console_oidc_client_secret
    scopes = tuple(dict.fromkeys(("openid", *settings.console_oidc_scopes.split())))

    def build(metadata: ServerMetadata) -> ProviderConfig:
        return ProviderConfig(
            name=NAME,
            authorize_url=metadata.authorization_endpoint,
            token_url=metadata.token_endpoint,
            revocation_url=metadata.revocation_endpoint,
            introspection_url=metadata.introspection_endpoint,
            userinfo_url=metadata.userinfo_endpoint,
            issuer=metadata.issuer,
            jwks_uri=metadata.jwks_uri,
            api_base_url=metadata.issuer,
            client_id=client_id,
            client_secrets=(secret,) if secret is not None else (),
            scopes=scopes,
            token_endpoint_auth_method="client_secret_basic" if secret is not None else "none",
            end_session_url=metadata.end_session_endpoint,
        )

    source = DiscoveredProvider(
        name=NAME, issuer=issuer, api_base_url=issuer, scopes=scopes, pkce=True, build=build
    )
    return OAuthClient(source, http)


def role_of_claims(claims: Mapping[str, object], settings: Settings) -> Role | None:
    """The highest role that a value of the role claim (a string or a list of them) is mapped to;
    None when no value is mapped, which gives no access."""
    value = claims.get(settings.console_oidc_role_claim)
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    mapping = settings.console_oidc_roles
    roles = [Role.named(mapping[v]) for v in values if isinstance(v, str) and v in mapping]
    held = [role for role in roles if role is not None]
    return max(held) if held else None


@dataclass(frozen=True)
class SignedInIdentity:
    """Who signed in at the identity provider, as its ID token says."""

    issuer: str
    subject: str
    email: str | None
    name: str | None
    auth_time: int | None

    @classmethod
    def of(cls, claims: Mapping[str, object], issuer: str) -> SignedInIdentity:
        """From validated claims (``sub`` is then a non-empty string)."""
        email, name, auth_time = claims.get("email"), claims.get("name"), claims.get("auth_time")
        return cls(
            issuer=issuer,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) and email else None,
            name=name if isinstance(name, str) and name else None,
            auth_time=auth_time if isinstance(auth_time, int) else None,
        )

    @property
    def actor(self) -> str:
        """How the audit trail names the operator: ``sso:<email>``, else ``sso:<subject>``."""
        return f"sso:{self.email or self.subject}"
