"""The provider profile's options in the providers file: those that shape the OAuth exchange
itself (``scope_separator``, ``token_params`` and ``refresh_params``, ``client_key`` for
``private_key_jwt``, and ``refresh``); ``verification``, the request that checks a stored
credential; and those that shape the API calls (``token_response``, an ``api_base_url`` template
with its ``allowed_hosts``, and ``auth_header``: ``gateway.providers.profile``). Each is checked
when the file is read; ``ProviderEntry`` (``providers_file``) holds them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from gateway.providers.client_key import Algorithm, ClientKey
from gateway.providers.config import SECRET_AUTH_METHODS, ProviderConfig, RefreshProfile
from gateway.providers.credential_profile import Verification, VerificationMethod
from gateway.providers.profile import (
    DEFAULT_PROFILE,
    ApiBase,
    ApiProfile,
    AuthHeader,
    TokenResponseShape,
)
from gateway.providers.token_response import TokenSet
from gateway.settings import SettingsError, split_commas

# A space (RFC 6749 §3.3) or a punctuation mark some providers use instead (Slack: a comma).
SCOPE_SEPARATORS = (" ", ",", ";", "+", "|")
TEN_YEARS = 10 * 365 * 86400


def reserved_in(params: Mapping[str, str], reserved: frozenset[str]) -> Mapping[str, str]:
    """``params`` unchanged, or ValueError naming the parameters the gateway sets itself."""
    found = reserved & set(params)
    if found:
        raise ValueError(f"may not set {', '.join(sorted(found))} (the gateway sets them)")
    return params


def checked_separator(separator: str) -> str:
    if separator not in SCOPE_SEPARATORS:
        shown = ", ".join(repr(s) for s in SCOPE_SEPARATORS)
        raise ValueError(f"must be one of {shown}")
    return separator


def check_client_authentication(
    method: str, *, secrets_given: tuple[bool, bool], client_key: bool, pkce: bool
) -> None:
    """ValueError unless ``token_endpoint_auth_method`` comes with what it needs: exactly one of
    ``client_secret`` and ``client_secret_env`` (``secrets_given``) for the secret methods and
    none otherwise, a ``client_key`` for ``private_key_jwt`` only, and PKCE for ``none``."""
    if method in SECRET_AUTH_METHODS:
        if secrets_given[0] == secrets_given[1]:
            raise ValueError("give exactly one of client_secret and client_secret_env")
    elif any(secrets_given):
        raise ValueError(f"token_endpoint_auth_method: {method} uses no client secret")
    if (method == "private_key_jwt") != client_key:
        raise ValueError(
            "client_key: private_key_jwt needs the key to sign with"
            if client_key is False
            else "client_key: only private_key_jwt uses a client key"
        )
    if method == "none" and not pkce:
        raise ValueError("pkce: a public client (token_endpoint_auth_method none) needs pkce")


class ClientKeyEntry(BaseModel):
    """``client_key = { file = "...", algorithm = "RS256", kid = "..." }`` (or ``env`` for
    ``file``): the private key ``private_key_jwt`` signs with, as a PEM."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path | None = None
    env: str | None = Field(default=None, min_length=1)
    algorithm: Algorithm = "RS256"
    kid: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.file is None) == (self.env is None):
            raise ValueError("give exactly one of file and env")
        return self

    def load(self, provider: str, environ: Mapping[str, str]) -> ClientKey:
        """The key; SettingsError naming the provider and the field (never the key's content)."""
        where = f"provider {provider!r}: client_key"
        if self.file is not None:
            try:
                pem = self.file.read_bytes()
            except OSError as exc:
                raise SettingsError(
                    f"{where}.file: cannot read {self.file}: {exc.strerror}"
                ) from None
            source = f"{where}.file ({self.file})"
        else:
            assert self.env is not None
            value = environ.get(self.env)
            if not value:
                raise SettingsError(f"{where}.env names {self.env}, which is unset or empty")
            pem = value.encode()
            source = f"{where}.env ({self.env})"
        try:
            return ClientKey.from_pem(pem, self.algorithm, self.kid)
        except ValueError as exc:
            raise SettingsError(f"{source} {exc}") from None


class RefreshEntry(BaseModel):
    """``refresh = { rotates = false, default_lifetime_seconds = 43200 }``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rotates: bool = True
    default_lifetime_seconds: int | None = Field(default=None, ge=1, le=TEN_YEARS)

    def profile(self) -> RefreshProfile:
        return RefreshProfile(self.rotates, self.default_lifetime_seconds)


def token_set(config: ProviderConfig, body: object) -> TokenSet:
    """A token response read as the profile says: where its fields are (``token_response``), the
    scope separator, and the lifetime when it names none."""
    tokens = TokenSet.from_response(body, provider=config.name, shape=config.profile.token_response)
    scopes = tokens.scopes
    if scopes is not None and config.scope_separator.strip():
        separator = config.scope_separator.strip()
        scopes = tuple(part.strip() for s in scopes for part in s.split(separator) if part.strip())
    lifetime = tokens.expires_in
    if lifetime is None:
        lifetime = config.refresh.default_lifetime_seconds
    return dataclasses.replace(tokens, scopes=scopes, expires_in=lifetime)


class VerificationEntry(BaseModel):
    """``verification = { method = "GET", path = "/me", expect_status = 200 }``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: VerificationMethod = "GET"
    path: str = Field(pattern=r"^/[^\s?#]*(\?[^\s#]*)?$", max_length=512)
    expect_status: int = Field(default=200, ge=200, le=299)

    def verification(self) -> Verification:
        return Verification(self.method, self.path, self.expect_status)


def client_secrets(
    provider: str,
    configured: SecretStr | list[SecretStr] | None,
    env_name: str | None,
    environ: Mapping[str, str],
) -> tuple[SecretStr, ...]:
    """The client secrets, newest first: the comma-separated list in the variable ``env_name``,
    or the ``configured`` one or list; SettingsError when they are unset or empty."""
    if env_name is not None:
        values = split_commas(environ.get(env_name))
        if not values:
            raise SettingsError(
                f"provider {provider!r}: client_secret_env names {env_name}, which is unset or "
                "empty"
            )
        return tuple(SecretStr(value) for value in values)
    listed = (
        configured
        if isinstance(configured, list)
        else [configured]
        if configured is not None
        else []
    )
    if not listed or not all(secret.get_secret_value() for secret in listed):
        raise SettingsError(f"provider {provider!r}: client_secret is empty")
    return tuple(listed)


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


def api_profile(
    api_base_url: str,
    allowed_hosts: tuple[str, ...],
    token_response: TokenResponseEntry | None,
    auth_header: AuthHeaderEntry | None,
    *,
    auth_mode: str,
    loopback_http: bool,
) -> ApiProfile:
    """The profile these options make (the shared default when none is given); ValueError on a
    mistake. ``api_base_url`` is a template when it holds a ``{``. ``auth_header`` applies to an
    OAuth access token and an API key; a basic or header credential is sent as its kind says."""
    if auth_header is not None and auth_mode in ("basic", "header"):
        raise ValueError(f"auth_header: auth_mode {auth_mode} says how its credential is sent")
    templated = "{" in api_base_url
    if not templated and allowed_hosts:
        raise ValueError("allowed_hosts applies to an api_base_url template only")
    if token_response is None and not templated and auth_header is None:
        return DEFAULT_PROFILE
    return ApiProfile(
        token_response=(
            token_response.shape() if token_response is not None else TokenResponseShape()
        ),
        api_base=ApiBase(api_base_url, allowed_hosts, loopback_http) if templated else None,
        auth_header=auth_header.auth_header() if auth_header is not None else AuthHeader(),
    )
