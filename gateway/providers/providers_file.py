"""The providers file (``GATEWAY_PROVIDERS_FILE``): extra OAuth providers in TOML, one table each.

::

    [providers.acme]
    issuer = "https://login.acme.example"          # endpoints by discovery; or give them below
    api_base_url = "https://api.acme.example/v2"
    client_id = "gateway"
    client_secret_env = "ACME_CLIENT_SECRETS"      # or client_secret = "..." / ["new", "old"]
    scopes = ["openid", "profile", "offline_access"]
    # authorize_url, token_url, revocation_url, introspection_url, userinfo_url, jwks_uri:
    #   required without issuer (the first two); with issuer they override the discovered ones
    # token_endpoint_auth_method = "client_secret_post"   # or private_key_jwt (with client_key),
    #                                                      # or none (a public client; needs pkce)
    # pkce = true
    # authorize_params = { prompt = "consent" }
    # The profile's options (profile_options.py): scope_separator = ",",
    #   token_params / refresh_params = { ... }, client_key = { file = "key.pem", algorithm = "ES256" },
    #   refresh = { rotates = false, default_lifetime_seconds = 43200 }
    # grant_types = ["client_credentials"]         # default: authorization_code, refresh_token
    # api_base_url = "{instance_url}/services/data" # a template over the settings, with
    # allowed_hosts = ["*.my.salesforce.com"]       # the hosts it may make (profile.py)
    # [providers.acme.token_response]               # settings kept; where the tokens are
    # settings = ["instance_url"]                   # or { name = "dotted.path" }
    # access_token = "data.access_token"            # likewise expires_in, refresh_token
    # [providers.acme.auth_header]
    # header = "Authorization"                      # scheme = "Bearer"; or query_param = "key"

    [providers.keyed]                              # stored credentials instead of OAuth grants
    api_base_url = "https://api.keyed.example/v1"
    auth_mode = "api_key"                          # or "basic", or "header" with credential_header
    verification = { method = "GET", path = "/me", expect_status = 200 }

An environment variable named by ``client_secret_env`` holds one secret or a comma-separated list
(the first is used; the others are tried on ``invalid_client`` during a rotation). Any mistake stops
start-up with a ``SettingsError`` naming the provider and the field. URLs are https; plain http is
accepted for loopback hosts only, and only when the loader is told so (a test setting).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.kit.validation import problems
from gateway.providers import client_credentials as grants
from gateway.providers.client_key import ClientKey
from gateway.providers.config import (
    RESERVED_AUTHORIZE_PARAMS,
    RESERVED_TOKEN_PARAMS,
    SECRET_AUTH_METHODS,
    AuthMethod,
    ProviderConfig,
)
from gateway.providers.contio import CONTIO
from gateway.providers.credential_profile import (
    CredentialKind,
    CredentialProfile,
    checked_header_name,
)
from gateway.providers.discovery import DiscoveredProvider, ServerMetadata
from gateway.providers.profile import DEFAULT_PROFILE, LOOPBACK_HOSTS, ApiProfile
from gateway.providers.profile_options import (
    AuthHeaderEntry,
    ClientKeyEntry,
    RefreshEntry,
    TokenResponseEntry,
    VerificationEntry,
    api_profile,
    check_client_authentication,
    checked_separator,
    client_secrets,
    reserved_in,
)
from gateway.settings import SettingsError

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
URL_FIELDS = (
    "issuer",
    "authorize_url",
    "token_url",
    "revocation_url",
    "introspection_url",
    "userinfo_url",
    "jwks_uri",
    "api_base_url",
)
_NO_METADATA = ServerMetadata(issuer="", authorization_endpoint="", token_endpoint="")
# The validation context's key: whether plain http to a loopback host is accepted (tests only).
ALLOW_LOOPBACK_HTTP = "allow_loopback_http"

ProviderSource = ProviderConfig | DiscoveredProvider
# The OAuth fields a stored-credential provider may not set (it has no OAuth server).
OAUTH_FIELDS = (
    *(name for name in URL_FIELDS if name != "api_base_url"),
    "client_id",
    "client_secret",
    "client_secret_env",
    "scopes",
    "authorize_params",
    "token_endpoint_auth_method",
    "pkce",
    "scope_separator",
    "token_params",
    "refresh_params",
    "client_key",
    "refresh",
    "token_response",
    "allowed_hosts",
)


class ProviderEntry(BaseModel):
    """One ``[providers.NAME]`` table, checked strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    revocation_url: str | None = None
    introspection_url: str | None = None
    userinfo_url: str | None = None
    jwks_uri: str | None = None
    api_base_url: str
    client_id: str | None = Field(default=None, min_length=1)
    client_secret: SecretStr | list[SecretStr] | None = None
    client_secret_env: str | None = Field(default=None, min_length=1)
    scopes: tuple[str, ...] = ()
    token_endpoint_auth_method: AuthMethod = "client_secret_basic"
    pkce: bool = True
    authorize_params: dict[str, str] = Field(default_factory=dict)
    scope_separator: str = " "
    token_params: dict[str, str] = Field(default_factory=dict)
    refresh_params: dict[str, str] = Field(default_factory=dict)
    client_key: ClientKeyEntry | None = None
    refresh: RefreshEntry = Field(default_factory=RefreshEntry)
    auth_mode: Literal["oauth_user"] | CredentialKind = "oauth_user"
    credential_header: str | None = None
    verification: VerificationEntry | None = None
    grant_types: tuple[str, ...] = grants.DEFAULT_GRANT_TYPES
    token_response: TokenResponseEntry | None = None
    allowed_hosts: tuple[str, ...] = ()
    auth_header: AuthHeaderEntry | None = None
    # The token response's shape, the API base template and the credential's injection.
    _api_profile: ApiProfile = PrivateAttr(default_factory=lambda: DEFAULT_PROFILE)

    @field_validator(*URL_FIELDS)
    @classmethod
    def _absolute_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.field_name == "api_base_url" and "{" in value:
            return value  # a template: ``api_profile`` checks what it makes
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment:
            raise ValueError("must be an absolute https URL")
        if parts.scheme == "http":
            allowed = bool((info.context or {}).get(ALLOW_LOOPBACK_HTTP))
            if not allowed or parts.hostname not in LOOPBACK_HOSTS:
                raise ValueError(
                    "must be an https URL (plain http is for loopback hosts in tests only, with "
                    "GATEWAY_PROVIDERS_ALLOW_LOOPBACK_HTTP)"
                )
        return value

    @field_validator("scopes")
    @classmethod
    def _single_words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not scope or scope.split() != [scope] for scope in value):
            raise ValueError("each scope must be one word without spaces")
        return value

    @field_validator("authorize_params")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        reserved_in(value, RESERVED_AUTHORIZE_PARAMS)
        return value

    @field_validator("grant_types")
    @classmethod
    def _known_grants(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one grant type")
        for grant_type in value:
            if grant_type == grants.PASSWORD:
                raise ValueError(grants.PASSWORD_REFUSED)
            if grant_type not in grants.GRANT_TYPES:
                raise ValueError(
                    f"unknown grant type {grant_type!r} (known: "
                    f"{', '.join(sorted(grants.GRANT_TYPES))})"
                )
        return value

    @field_validator("token_params", "refresh_params")
    @classmethod
    def _not_reserved_at_token_endpoint(cls, value: dict[str, str]) -> dict[str, str]:
        reserved_in(value, RESERVED_TOKEN_PARAMS)
        return value

    @field_validator("scope_separator")
    @classmethod
    def _separator(cls, value: str) -> str:
        return checked_separator(value)

    @field_validator("credential_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        return value if value is None else checked_header_name(value)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.auth_mode != "oauth_user":
            return self._stored_credentials()
        if self.credential_header is not None or self.verification is not None:
            raise ValueError(
                "credential_header and verification need a stored-credential auth_mode"
            )
        if self.client_id is None:
            raise ValueError("client_id is required")
        check_client_authentication(
            self.token_endpoint_auth_method,
            secrets_given=(self.client_secret is not None, self.client_secret_env is not None),
            client_key=self.client_key is not None,
            pkce=self.pkce,
        )
        if any(self.scope_separator in scope for scope in self.scopes):
            raise ValueError(
                f"scopes: a scope may not contain the separator {self.scope_separator!r}"
            )
        needs_authorize = grants.AUTHORIZATION_CODE in self.grant_types
        if self.issuer is None and (
            self.token_url is None or (needs_authorize and self.authorize_url is None)
        ):
            raise ValueError(
                "give issuer (for discovery), or both authorize_url and token_url (token_url "
                "alone for a provider without the authorization_code grant)"
            )
        if self.issuer is None and "openid" in self.scopes:
            raise ValueError("the openid scope needs issuer, to check ID tokens")
        return self

    def _stored_credentials(self) -> Self:
        """A provider of stored credentials has no OAuth server: none of its fields is set."""
        given = [name for name in OAUTH_FIELDS if name in self.model_fields_set]
        if given:
            raise ValueError(
                f"auth_mode {self.auth_mode} takes no OAuth settings; remove {', '.join(given)}"
            )
        if (self.auth_mode == "header") != (self.credential_header is not None):
            raise ValueError("credential_header is required with auth_mode header, and only then")
        return self

    def credential_profile(self) -> CredentialProfile | None:
        if self.auth_mode == "oauth_user":
            return None
        check = None if self.verification is None else self.verification.verification()
        return CredentialProfile(self.auth_mode, self.credential_header, check)

    @model_validator(mode="after")
    def _profile(self, info: ValidationInfo) -> Self:
        self._api_profile = api_profile(
            self.api_base_url,
            self.allowed_hosts,
            self.token_response,
            self.auth_header,
            auth_mode=self.auth_mode,
            loopback_http=bool((info.context or {}).get(ALLOW_LOOPBACK_HTTP)),
        )  # any ValueError names the field
        return self

    def source(self, name: str, environ: Mapping[str, str]) -> ProviderSource:
        """The config itself, or with an issuer, what builds it once discovery has run."""
        secrets: tuple[SecretStr, ...] = ()
        if (
            self.auth_mode == "oauth_user"
            and self.token_endpoint_auth_method in SECRET_AUTH_METHODS
        ):
            secrets = client_secrets(name, self.client_secret, self.client_secret_env, environ)
        key = None if self.client_key is None else self.client_key.load(name, environ)
        if self.issuer is None:
            return self.config(name, secrets, key, None)
        return DiscoveredProvider(
            name=name,
            issuer=self.issuer,
            api_base_url=self.api_base_url.rstrip("/"),
            scopes=self.scopes,
            pkce=self.pkce,
            build=partial(self.config, name, secrets, key),
            client_key=key,
            profile=self._api_profile,
        )

    def config(
        self,
        name: str,
        secrets: tuple[SecretStr, ...],
        client_key: ClientKey | None,
        metadata: ServerMetadata | None,
    ) -> ProviderConfig:
        """Explicit endpoints win over discovered ones."""
        found = (
            metadata or _NO_METADATA
        )  # without metadata, validation made the explicit ones required
        return ProviderConfig(
            name=name,
            authorize_url=self.authorize_url or found.authorization_endpoint,
            token_url=self.token_url or found.token_endpoint,
            revocation_url=self.revocation_url or found.revocation_endpoint,
            introspection_url=self.introspection_url or found.introspection_endpoint,
            userinfo_url=self.userinfo_url or found.userinfo_endpoint,
            issuer=self.issuer,
            jwks_uri=self.jwks_uri or found.jwks_uri,
            api_base_url=self.api_base_url,
            client_id=self.client_id or "",
            client_secrets=secrets,
            scopes=self.scopes,
            token_endpoint_auth_method=self.token_endpoint_auth_method,
            pkce=self.pkce,
            authorize_params=self.authorize_params,
            scope_separator=self.scope_separator,
            token_params=self.token_params,
            refresh_params=self.refresh_params,
            refresh=self.refresh.profile(),
            client_key=client_key,
            credentials=self.credential_profile(),
            grant_types=self.grant_types,
            profile=self._api_profile,
        )


def load_providers_file(
    path: Path, environ: Mapping[str, str], *, allow_loopback_http: bool = False
) -> dict[str, ProviderSource]:
    """Every provider of the file, in file order; SettingsError on any mistake.

    ``allow_loopback_http`` accepts plain http URLs to loopback hosts (tests against the sandbox).
    """
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise SettingsError(f"cannot read providers file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"providers file {path} is not valid TOML: {exc}") from exc
    unknown = set(document) - {"providers"}
    if unknown:
        raise SettingsError(
            f"providers file {path}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
            "put each provider in a [providers.NAME] table"
        )
    tables = document.get("providers", {})
    if not isinstance(tables, dict):
        raise SettingsError(f"providers file {path}: providers must be a table of tables")
    context = {ALLOW_LOOPBACK_HTTP: allow_loopback_http}
    return {name: _source(path, name, table, environ, context) for name, table in tables.items()}


def _source(
    path: Path, name: str, table: object, environ: Mapping[str, str], context: dict[str, bool]
) -> ProviderSource:
    where = f"providers file {path}: [providers.{name}]"
    if name == CONTIO:
        raise SettingsError(f"{where}: the name {CONTIO!r} is reserved for the built-in provider")
    if not NAME.fullmatch(name):
        raise SettingsError(f"{where}: a name is lowercase letters, digits, '-' and '_'")
    if not isinstance(table, dict):
        raise SettingsError(f"{where} must be a table")
    try:
        entry = ProviderEntry.model_validate(table, context=context)
    except ValidationError as exc:
        found = "; ".join(
            f"{item['field']}: {item['problem']}" if item["field"] else item["problem"]
            for item in problems(exc, whole="")
        )
        raise SettingsError(f"{where}: {found}") from None
    try:
        return entry.source(name, environ)
    except ValueError as exc:  # ProviderConfig's own checks
        raise SettingsError(f"{where}: {exc}") from None
    except SettingsError as exc:  # a secret or key the file names, unusable
        raise SettingsError(f"providers file {path}: {exc}") from None
