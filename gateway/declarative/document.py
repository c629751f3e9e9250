"""The declarative file ``gateway apply`` reads: its shape, and reading it.

A file (YAML or JSON, chosen by its suffix) declares the whole of each service client it names::

    version: 1
    clients:
      billing:
        scopes: [proxy, connect]
        allow: ["GET /contio/**"]
        own_users_only: false
        user_pattern: null
        rate_limit: {rate: 50/s, burst: 100}
        disabled: false
        key_file: /run/secrets/billing.key       # a new client's key is written here, once
        subscriptions:
          - url: https://billing.internal/events
            event_types: [connection.*]
            label_selector: [team=billing]
            enabled: true
            secret: {env: BILLING_WEBHOOK_SECRET}

A field left out takes its default (no rules, any users, no rate limit, enabled). Unknown fields
are refused with their path. Secrets are never written inline: a subscription's signing secret is a
reference (``{file: PATH}`` or ``{env: NAME}``), and a client's key is either written once to
``key_file`` when the client is created or declared by its hash (``key_sha256`` with the key's
``key_prefix``, its first characters).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.clients.limits import RateLimit, RateLimitError
from gateway.clients.service_keys import KEY_PREFIX, LOOKUP_PREFIX_LENGTH
from gateway.events import signing
from gateway.exceptions import BadRequest
from gateway.kit.validation import problems

MAX_FILE_BYTES = 4 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DeclarationError(BadRequest):
    """Raised when a declarative file cannot be applied; the message names the field's path."""

    code = "invalid_declaration"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretReference(_Strict):
    """Where a secret is read from: a file (its content, surrounding whitespace dropped) or an
    environment variable. Never the secret itself."""

    file: Path | None = None
    env: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.file is None) == (self.env is None):
            raise ValueError("a secret reference names exactly one of file or env")
        return self

    def read(self, environ: Mapping[str, str]) -> str:
        """The secret; a ``ValueError`` naming the reference (never the value) when it is absent."""
        if self.env is not None:
            value = environ.get(self.env)
            if value is None:
                raise ValueError(f"the environment variable {self.env} is not set")
            return value.strip()
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {self.file}: {exc.strerror}") from exc

    def __str__(self) -> str:
        return f"env {self.env}" if self.env is not None else f"file {self.file}"


class DeclaredRateLimit(_Strict):
    rate: str
    burst: int | None = None

    @model_validator(mode="after")
    def _parses(self) -> Self:
        self.limit()
        return self

    def limit(self) -> RateLimit:
        try:
            return RateLimit.parse(self.rate, self.burst)
        except RateLimitError as exc:
            raise ValueError(str(exc)) from exc


class DeclaredSubscription(_Strict):
    url: str = Field(min_length=1, max_length=2000)
    event_types: tuple[str, ...] = Field(min_length=1)
    label_selector: tuple[str, ...] = ()
    enabled: bool = True
    secret: SecretReference | None = None


class DeclaredClient(_Strict):
    scopes: tuple[str, ...] = Field(min_length=1)
    allow: tuple[str, ...] = ()
    own_users_only: bool = False
    user_pattern: str | None = None
    rate_limit: DeclaredRateLimit | None = None
    disabled: bool = False
    key_file: Path | None = None
    key_sha256: str | None = None
    key_prefix: str | None = None
    subscriptions: tuple[DeclaredSubscription, ...] = ()

    @field_validator("key_sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.match(value):
            raise ValueError("must be 64 lowercase hexadecimal digits (the key's SHA-256)")
        return value

    @field_validator("key_prefix")
    @classmethod
    def _lookup_prefix(cls, value: str | None) -> str | None:
        if value is not None and (
            len(value) != LOOKUP_PREFIX_LENGTH or not value.startswith(KEY_PREFIX)
        ):
            raise ValueError(
                f"must be the key's first {LOOKUP_PREFIX_LENGTH} characters ({KEY_PREFIX}...)"
            )
        return value

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if (self.key_sha256 is None) != (self.key_prefix is None):
            raise ValueError("key_sha256 and key_prefix go together")
        if self.key_file is not None and self.key_sha256 is not None:
            raise ValueError("give key_file or key_sha256, not both")
        urls = [subscription.url for subscription in self.subscriptions]
        if len(urls) != len(set(urls)):
            raise ValueError("a client's subscriptions must have different URLs")
        return self


class Declaration(_Strict):
    version: Literal[1]
    clients: dict[str, DeclaredClient] = {}


def read_declaration(path: Path, environ: Mapping[str, str] | None = None) -> Declared:
    """The file at ``path``, checked, with its secrets read; ``DeclarationError`` naming the file
    and the path of the first fields at fault otherwise."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DeclarationError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeclarationError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise DeclarationError(f"{path} is not valid {_format(path)}: {exc}") from exc
    try:
        declaration = Declaration.model_validate(data)
    except ValidationError as exc:
        found = problems(exc, whole="the file")
        listed = "; ".join(f"{item['field']}: {item['problem']}" for item in found)
        raise DeclarationError(f"{path}: {listed}", details={"problems": found}) from exc
    return Declared(declaration, _secrets(declaration, os.environ if environ is None else environ))


def _format(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "YAML"


class Declared:
    """A checked declaration and the subscription secrets its references point to."""

    def __init__(self, declaration: Declaration, secrets: Mapping[tuple[str, str], str]) -> None:
        self.clients = declaration.clients
        self._secrets = dict(secrets)

    def secret(self, client: str, url: str) -> str | None:
        return self._secrets.get((client, url))

    def __repr__(self) -> str:
        return f"Declared(clients={sorted(self.clients)}, secrets=***)"


def _secrets(declaration: Declaration, environ: Mapping[str, str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for name, client in declaration.clients.items():
        for index, subscription in enumerate(client.subscriptions):
            if subscription.secret is None:
                continue
            where = f"clients.{name}.subscriptions.{index}.secret"
            try:
                value = subscription.secret.read(environ)
                signing.parse_secret(value)
            except ValueError as exc:
                raise DeclarationError(f"{where}: {exc}", details={"field": where}) from exc
            found[(name, subscription.url)] = value
    return found
