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
    # allowed_hosts = ["*.my.salesforce.com"]       # required when api_base_url is a template
    # [providers.acme.token_response]               # settings kept; where the tokens are
    # settings = ["instance_url"]                   # or { name = "dotted.path" }
    # access_token = "data.access_token"            # likewise expires_in, refresh_token
    # [providers.acme.auth_header]
    # header = "Authorization"                      # scheme = "Bearer"; or query_param = "key"

``api_base_url`` may be a template over the settings (``{instance_url}/services/data``):
``gateway.providers.profile`` says what it must resolve to.

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
from typing import Self
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
from gateway.providers.client_key import ClientKey
from gateway.providers.config import (
    RESERVED_AUTHORIZE_PARAMS,
    RESERVED_TOKEN_PARAMS,
    SECRET_AUTH_METHODS,
    AuthMethod,
    ProviderConfig,
)
from gateway.providers.contio import CONTIO
from gateway.providers.discovery import DiscoveredProvider, ServerMetadata
from gateway.providers.profile import (
    DEFAULT_PROFILE,
    LOOPBACK_HOSTS,
    ApiBase,
    ApiProfile,
    AuthHeader,
    TokenResponseShape,
)
from gateway.providers.profile_options import (
    ClientKeyEntry,
    RefreshEntry,
    checked_separator,
    reserved_in,
)
from gateway.settings import SettingsError, split_commas

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


class TokenResponseEntry(BaseModel):
    """``[providers.NAME.token_response]``: see ``profile.TokenResponseShape``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    access_token: str = "access_token"
    expires_in: str = "expires_in"
    refresh_token: str = "refresh_token"
    # A list keeps each top-level field under its own name; a table names the path of each.
    settings: list[str] | dict[str, str] = Field(default_factory=dict)

    def shape(self) -> TokenResponseShape:
        kept = self.settings if isinstance(self.settings, dict) else {n: n for n in self.settings}
        return TokenResponseShape(
            access_token=self.access_token,
            expires_in=self.expires_in,
            refresh_token=self.refresh_token,
            settings=kept,
        )


class AuthHeaderEntry(BaseModel):
    """``[providers.NAME.auth_header]``: see ``profile.AuthHeader``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str = "Authorization"
    scheme: str = "Bearer"
    query_param: str | None = Field(default=None, min_length=1)

    def auth_header(self) -> AuthHeader:
        return AuthHeader(header=self.header, scheme=self.scheme, query_param=self.query_param)


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
    client_id: str = Field(min_length=1)
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
    token_response: TokenResponseEntry | None = None
    allowed_hosts: tuple[str, ...] = ()
    auth_header: AuthHeaderEntry | None = None
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

    @field_validator("token_params", "refresh_params")
    @classmethod
    def _not_reserved_at_token_endpoint(cls, value: dict[str, str]) -> dict[str, str]:
        reserved_in(value, RESERVED_TOKEN_PARAMS)
        return value

    @field_validator("scope_separator")
    @classmethod
    def _separator(cls, value: str) -> str:
        return checked_separator(value)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        self._check_client_authentication()
        if any(self.scope_separator in scope for scope in self.scopes):
            raise ValueError(
                f"scopes: a scope may not contain the separator {self.scope_separator!r}"
            )
        if self.issuer is None and (self.authorize_url is None or self.token_url is None):
            raise ValueError("give issuer (for discovery), or both authorize_url and token_url")
        if self.issuer is None and "openid" in self.scopes:
            raise ValueError("the openid scope needs issuer, to check ID tokens")
        return self

    @model_validator(mode="after")
    def _profile(self, info: ValidationInfo) -> Self:
        loopback = bool((info.context or {}).get(ALLOW_LOOPBACK_HTTP))
        self._api_profile = self._made_profile(loopback)  # any ValueError names the field
        return self

    def api_profile(self) -> ApiProfile:
        """The token response's shape, the API base template and the credential's injection."""
        return self._api_profile

    def _made_profile(self, loopback_http: bool) -> ApiProfile:
        templated = "{" in self.api_base_url
        if not templated and self.allowed_hosts:
            raise ValueError("allowed_hosts applies to an api_base_url template only")
        if self.token_response is None and not templated and self.auth_header is None:
            return DEFAULT_PROFILE
        return ApiProfile(
            token_response=(
                self.token_response.shape()
                if self.token_response is not None
                else TokenResponseShape()
            ),
            api_base=(
                ApiBase(self.api_base_url, self.allowed_hosts, loopback_http) if templated else None
            ),
            auth_header=(
                self.auth_header.auth_header() if self.auth_header is not None else AuthHeader()
            ),
        )

    def _check_client_authentication(self) -> None:
        method = self.token_endpoint_auth_method
        has_secret = self.client_secret is not None or self.client_secret_env is not None
        if method in SECRET_AUTH_METHODS:
            if (self.client_secret is None) == (self.client_secret_env is None):
                raise ValueError("give exactly one of client_secret and client_secret_env")
        elif has_secret:
            raise ValueError(f"token_endpoint_auth_method: {method} uses no client secret")
        if method == "private_key_jwt" and self.client_key is None:
            raise ValueError("client_key: private_key_jwt needs the key to sign with")
        if method != "private_key_jwt" and self.client_key is not None:
            raise ValueError("client_key: only private_key_jwt uses a client key")
        if method == "none" and not self.pkce:
            raise ValueError("pkce: a public client (token_endpoint_auth_method none) needs pkce")

    def source(self, name: str, environ: Mapping[str, str]) -> ProviderSource:
        """The config itself, or with an issuer, what builds it once discovery has run."""
        secrets = self._secrets(name, environ)
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
            profile=self.api_profile(),
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
            client_id=self.client_id,
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
            profile=self.api_profile(),
        )

    def _secrets(self, name: str, environ: Mapping[str, str]) -> tuple[SecretStr, ...]:
        if self.token_endpoint_auth_method not in SECRET_AUTH_METHODS:
            return ()
        if self.client_secret_env is not None:
            values = split_commas(environ.get(self.client_secret_env))
            if not values:
                raise SettingsError(
                    f"provider {name!r}: client_secret_env names {self.client_secret_env}, "
                    "which is unset or empty"
                )
            return tuple(SecretStr(value) for value in values)
        configured = self.client_secret
        listed = (
            configured
            if isinstance(configured, list)
            else [configured]
            if configured is not None
            else []
        )
        if not listed or not all(secret.get_secret_value() for secret in listed):
            raise SettingsError(f"provider {name!r}: client_secret is empty")
        return tuple(listed)


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
