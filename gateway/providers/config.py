"""What the gateway knows about one OAuth provider: its endpoints, its client and what to ask for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pydantic import SecretStr

from gateway.providers.client_key import ClientKey
from gateway.providers.credential_profile import CredentialProfile
from gateway.providers.profile import DEFAULT_PROFILE, ApiProfile

AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
SECRET_AUTH_METHODS = frozenset({"client_secret_basic", "client_secret_post"})

# Parameters the client sets itself; a provider's extra authorize_params may not replace them.
RESERVED_AUTHORIZE_PARAMS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "login_hint",
    }
)
# And on the token endpoint: a provider's token_params and refresh_params may not replace these.
RESERVED_TOKEN_PARAMS = frozenset(
    {
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
    }
)


@dataclass(frozen=True)
class RefreshProfile:
    """How a provider's refresh tokens behave.

    ``rotates``: whether each refresh answer carries a new refresh token (the old one is kept when
    an answer has none either way; a rotating provider that sends none is logged).
    ``default_lifetime_seconds``: an access token's lifetime when the answer has no ``expires_in``
    (None: ask introspection, then ``GATEWAY_DEFAULT_TOKEN_LIFETIME_SECONDS``).
    """

    rotates: bool = True
    default_lifetime_seconds: int | None = None


@dataclass(frozen=True)
class ProviderConfig:
    """A provider with every endpoint known. Its repr shows secrets as stars."""

    name: str
    authorize_url: str
    token_url: str
    revocation_url: str | None
    introspection_url: str | None
    userinfo_url: str | None
    issuer: str | None
    jwks_uri: str | None
    api_base_url: str
    client_id: str
    client_secrets: tuple[SecretStr, ...]
    scopes: tuple[str, ...]
    token_endpoint_auth_method: AuthMethod = "client_secret_basic"
    pkce: bool = True
    authorize_params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The provider profile's options (docs/providers.md).
    scope_separator: str = " "
    token_params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    refresh_params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    refresh: RefreshProfile = field(default_factory=RefreshProfile)
    client_key: ClientKey | None = None
    # The OAuth grants the gateway may use with this provider (``providers.client_credentials``).
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")

    # A provider that takes stored credentials (API keys and the like) instead of OAuth grants:
    # its OAuth fields are empty and never used.
    credentials: CredentialProfile | None = None
    # The token response's shape, the API base template and the credential's injection.
    profile: ApiProfile = DEFAULT_PROFILE
    # OpenID Connect RP-initiated logout, where the provider offers it.
    end_session_url: str | None = None

    def __post_init__(self) -> None:
        if self.credentials is None:
            self._check_client_authentication()
        for name, reserved_names in (
            ("authorize_params", RESERVED_AUTHORIZE_PARAMS),
            ("token_params", RESERVED_TOKEN_PARAMS),
            ("refresh_params", RESERVED_TOKEN_PARAMS),
        ):
            params = getattr(self, name)
            reserved = reserved_names & set(params)
            if reserved:
                raise ValueError(
                    f"provider {self.name!r}: {name} may not set {', '.join(sorted(reserved))}"
                )
            # Frozen means frozen: nobody may edit the params through a dict they still hold.
            object.__setattr__(self, name, MappingProxyType(dict(params)))
        if not self.scope_separator:
            raise ValueError(f"provider {self.name!r}: scope_separator must not be empty")
        object.__setattr__(self, "api_base_url", self.api_base_url.rstrip("/"))

    def _check_client_authentication(self) -> None:
        method = self.token_endpoint_auth_method
        if method in SECRET_AUTH_METHODS and not self.client_secrets:
            raise ValueError(f"provider {self.name!r} needs at least one client secret")
        if method not in SECRET_AUTH_METHODS and self.client_secrets:
            raise ValueError(f"provider {self.name!r}: {method} uses no client secret")
        if (method == "private_key_jwt") != (self.client_key is not None):
            raise ValueError(f"provider {self.name!r}: a client key goes with private_key_jwt only")
        if method == "none" and not self.pkce:
            raise ValueError(f"provider {self.name!r}: a public client (none) needs pkce")

    @property
    def uses_openid(self) -> bool:
        return "openid" in self.scopes
