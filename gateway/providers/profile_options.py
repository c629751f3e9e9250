"""The provider profile's options in the providers file that shape the OAuth exchange itself:
``scope_separator``, ``token_params`` and ``refresh_params``, ``client_key`` (for
``private_key_jwt``) and ``refresh``. Each is checked when the file is read; ``ProviderEntry``
(``providers_file``) holds them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.providers.client_key import Algorithm, ClientKey
from gateway.providers.config import ProviderConfig, RefreshProfile
from gateway.providers.token_response import TokenSet
from gateway.settings import SettingsError

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


def as_profiled(config: ProviderConfig, tokens: TokenSet) -> TokenSet:
    """The token response read with the profile's scope separator and default lifetime."""
    scopes = tokens.scopes
    if scopes is not None and config.scope_separator.strip():
        separator = config.scope_separator.strip()
        scopes = tuple(part.strip() for s in scopes for part in s.split(separator) if part.strip())
    lifetime = tokens.expires_in
    if lifetime is None:
        lifetime = config.refresh.default_lifetime_seconds
    return dataclasses.replace(tokens, scopes=scopes, expires_in=lifetime)
