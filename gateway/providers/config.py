"""What the gateway knows about one OAuth provider: its endpoints, its client and what to ask for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pydantic import SecretStr

from gateway.providers.profile import DEFAULT_PROFILE, ApiProfile

AuthMethod = Literal["client_secret_basic", "client_secret_post"]

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
    # The token response's shape, the API base template and the credential's injection.
    profile: ApiProfile = DEFAULT_PROFILE

    def __post_init__(self) -> None:
        if not self.client_secrets:
            raise ValueError(f"provider {self.name!r} needs at least one client secret")
        reserved = RESERVED_AUTHORIZE_PARAMS & set(self.authorize_params)
        if reserved:
            raise ValueError(
                f"provider {self.name!r}: authorize_params may not set {', '.join(sorted(reserved))}"
            )
        # Frozen means frozen: nobody may edit the params through a dict they still hold.
        object.__setattr__(self, "authorize_params", MappingProxyType(dict(self.authorize_params)))
        object.__setattr__(self, "api_base_url", self.api_base_url.rstrip("/"))

    @property
    def uses_openid(self) -> bool:
        return "openid" in self.scopes
