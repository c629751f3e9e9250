"""Settings, read from ``GATEWAY_*`` environment variables.

Secrets are ``SecretStr`` and may instead be read from a file named by ``GATEWAY_<NAME>_FILE`` (the
Docker and Kubernetes way of mounting secrets). Lists are comma-separated strings and scopes are
space-separated, never JSON. No secret has a default: commands that need one call
``Settings.require`` and stop with a message naming what is missing.
"""

from __future__ import annotations

import ipaddress
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "GATEWAY_"

CONTIO_DEFAULT_SCOPES = (
    "openid profile email meetings:read meetings:write action-items:read action-items:write "
    "calendar:read calendar:write"
)

CommaList = Annotated[tuple[str, ...], NoDecode]


class SettingsError(Exception):
    """Raised when the settings are incomplete or contradictory; the message says how to fix it."""


def split_commas(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        return tuple(str(part).strip() for part in value if str(part).strip())
    raise ValueError("expected a comma-separated string")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: SecretStr | None = None
    data_dir: Path = Path(".gateway")
    database_pool_size: int = Field(default=10, ge=1)
    # How many processes ``gateway serve`` runs on the same listeners (``--workers``).
    serve_workers: int = Field(default=1, ge=1)

    encryption_keys: SecretStr | None = None
    encryption_active_key: str | None = None

    public_url: str = "http://127.0.0.1:8000"
    allowed_return_urls: CommaList = ()
    connect_session_ttl_seconds: int = Field(default=600, ge=1)
    # Partner-auth provisioning: Contio's one-time code lives 3 minutes and the
    # session a verified code opens 30; the gateway holds both to its own clock too.
    provisioning_code_ttl_seconds: int = Field(default=180, ge=1)
    provisioning_session_ttl_seconds: int = Field(default=1800, ge=1)
    provisioning_max_attempts: int = Field(default=5, ge=1)
    # How long one verify (or the first request of an Idempotency-Key) may run before another may
    # take over: longer than its provider calls can take.
    provisioning_lease_seconds: int = Field(default=120, ge=1)

    default_provider: str = "contio"
    providers_file: Path | None = None
    # Accept plain http URLs to loopback hosts in the providers file: for tests against the sandbox.
    providers_allow_loopback_http: bool = False
    contio_auth_url: str = "https://auth.contio.ai"
    contio_api_url: str = "https://api.contio.ai"
    contio_client_id: str | None = None
    contio_client_secret: SecretStr | None = None
    contio_scopes: str = CONTIO_DEFAULT_SCOPES

    contio_admin_api_key: SecretStr | None = None
    contio_webhook_secrets: SecretStr | None = None
    contio_token_rate: str | None = None
    # Shares of every provider's token-endpoint budget (fractions of its rate; docs/budget.md):
    # what the refresher leaves to callers (it spends at most 1 - this), what is kept for the
    # refresher alone, what is kept for operators alone, and the most one service client may spend
    # per window (``token_rate_client_shares``, ``<client id>=<fraction>,...``, per client).
    token_rate_reserve: float = Field(default=0.1, ge=0, lt=1)
    token_rate_refresher_reserve: float = Field(default=0.25, ge=0, lt=1)
    token_rate_operator_reserve: float = Field(default=0.1, ge=0, lt=1)
    token_rate_client_share: float = Field(default=0.2, gt=0, le=1)
    token_rate_client_shares: Annotated[
        dict[uuid.UUID, Annotated[float, Field(gt=0, le=1)]], NoDecode
    ] = Field(default_factory=dict)
    # An upstream 401 on the proxy refreshes a connection's token at most once per this long;
    # meanwhile the provider's 401 is relayed as it is.
    proxy_401_refresh_cooldown_seconds: int = Field(default=30, ge=0)

    refresh_at_fraction: float = Field(default=0.75, gt=0, lt=1)
    refresh_margin_seconds: int = Field(default=300, ge=0)
    refresh_jitter_fraction: float = Field(default=0.05, ge=0, lt=0.5)
    default_token_lifetime_seconds: int = Field(default=3600, ge=1)
    refresh_lease_seconds: int = Field(default=90, ge=1)
    refresher_interval_seconds: float = Field(default=5.0, gt=0)
    refresher_batch_size: int = Field(default=500, ge=1)
    # Token requests a refresher batch has in flight at once.
    refresher_concurrency: int = Field(default=16, ge=1)
    breaker_open_seconds: float = Field(default=60.0, gt=0)
    # Upstream revocation retries (capped exponential backoff) before giving up: 48 is about 11 h.
    revocation_max_attempts: int = Field(default=48, ge=1)

    event_endpoints: CommaList = ()
    # Forwarded provider events (``provider.<name>.<type>``) carry users' data: the endpoints above
    # receive them only when an operator turns this on.
    event_endpoints_forwarded: bool = False
    event_signing_secrets: SecretStr | None = None
    # Service clients' subscriptions (docs/events.md): https to public addresses only, unless
    # loopback is allowed (over http too: development) or an address is in an allowed network.
    subscriptions_allow_loopback_http: bool = False
    subscriptions_allowed_networks: CommaList = ()
    # After a rotation, a subscription's previous secrets keep signing this long.
    subscription_secret_overlap_seconds: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)
    webhook_tolerance_seconds: int = Field(default=600, ge=1)
    outbox_retention_days: float = Field(default=7, gt=0)
    dead_letter_retention_days: float = Field(default=30, gt=0)
    audit_retention_days: float = Field(default=365, gt=0)
    # The audit stream (docs/operators.md, "The audit trail"): "stdout", a file path, or empty for
    # none; OpenTelemetry logs too when an OTLP endpoint is set.
    audit_sink: str = ""
    audit_stream_interval_seconds: float = Field(default=1.0, gt=0)
    # Committed entries are hashed into a chained segment this often.
    audit_seal_interval_seconds: float = Field(default=60.0, gt=0)
    # Timeline records: about one a refresh, so about a day's refreshes of every connection a day.
    timeline_retention_days: float = Field(default=30, gt=0)
    # Provider webhook events that matched no connection (``gateway events unmatched``).
    unmatched_event_retention_days: float = Field(default=7, gt=0)
    retention_interval_seconds: float = Field(default=3600, gt=0)

    http_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    http_read_timeout_seconds: float = Field(default=30.0, gt=0)

    # The proxy's own upstream client (aiohttp), separate from the OAuth client above.
    proxy_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    proxy_read_timeout_seconds: float = Field(default=30.0, gt=0)
    # Until the provider's answer starts, every attempt and backoff included.
    proxy_total_timeout_seconds: float = Field(default=60.0, gt=0)
    proxy_max_attempts: int = Field(default=3, ge=1)
    proxy_retry_base_seconds: float = Field(default=0.1, ge=0)
    proxy_retry_max_seconds: float = Field(default=2.0, ge=0)
    # Request bodies up to this size are kept so they can be sent again (retry, 401 refresh).
    proxy_replay_buffer_bytes: int = Field(default=1024 * 1024, ge=0)
    # Response bodies up to this size are read whole before the answer starts, so that a reply
    # lost halfway is retried (when safe) or reported as 502 rather than cut short.
    proxy_response_buffer_bytes: int = Field(default=256 * 1024, ge=0)
    proxy_max_connections: int = Field(default=512, ge=1)
    # Backstop for LISTEN/NOTIFY: cached keys and tokens are re-read at least this often (0: off).
    # NOTIFY drops what changed within moments, and a change feed that loses its connection turns
    # the caches off within seconds, so the backstop need not be short (docs/proxy.md).
    proxy_cache_ttl_seconds: float = Field(default=300.0, ge=0)
    # What the proxy's caches (tokens, admissions, keys) may hold together, estimated per entry:
    # a serving process's memory follows this, whatever the number of users (docs/proxy.md).
    proxy_cache_max_bytes: int = Field(default=64 * 2**20, ge=64 * 1024)

    # Limits on every request, on both listeners, checked before any work (docs/limits.md). The
    # head (request line and headers) is capped by the server's HTTP protocol: its bytes, its
    # number of headers, and the time from its first byte to its end (431, 408).
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    max_header_count: int = Field(default=100, ge=1)
    header_timeout_seconds: float = Field(default=20.0, gt=0)
    # The largest body any of the gateway's own endpoints reads (API, pages, console, webhooks),
    # and the largest the proxy forwards (streamed beyond the replay buffer): 413 past them.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    proxy_max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=0)

    # The operators' console: a session ends after this long without a page view, and in any case
    # this long after signing in. The cookie is Secure when public_url is https unless set here.
    console_idle_timeout_seconds: int = Field(default=1800, ge=1)
    console_session_max_seconds: int = Field(default=12 * 3600, ge=1)
    console_secure_cookie: bool | None = None
    # Signing operators in with the company's OpenID Connect provider (docs/operators.md): on when
    # an issuer is set. ``console_oidc_roles`` maps values of the role claim to roles
    # (``ops-viewers=viewer,ops-admins=security``); a value mapped nowhere gives no access.
    console_oidc_issuer: str | None = None
    console_oidc_client_id: str | None = None
    console_oidc_client_secret: SecretStr | None = None
    console_oidc_role_claim: str = "groups"
    # Space-separated; add ``offline_access`` where the provider gives refresh tokens only then.
    console_oidc_scopes: str = "openid profile email"
    console_oidc_roles: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    # How often a signed-in operator's role is asked of the provider again, and how long a session
    # may go on unchecked while the provider cannot be reached before it ends.
    console_oidc_recheck_seconds: int = Field(default=300, ge=1)
    console_oidc_recheck_grace_seconds: int = Field(default=900, ge=0)
    # A dangerous action needs a sign-in at the provider no older than this.
    console_fresh_sign_in_seconds: int = Field(default=300, ge=1)
    # The admin-key sign-in: the break-glass path while the provider is down.
    console_break_glass: bool = True

    # The cluster's gauges on ``/metrics`` (counts over every connection) are read from PostgreSQL
    # at most this often per process; scrapes in between show the last figures, with their age.
    # 0: on every scrape.
    metrics_cluster_seconds: float = Field(default=30.0, ge=0)

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @field_validator(
        "allowed_return_urls", "event_endpoints", "subscriptions_allowed_networks", mode="before"
    )
    @classmethod
    def _split(cls, value: object) -> tuple[str, ...]:
        return split_commas(value)

    @field_validator("subscriptions_allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not a network such as 10.0.0.0/8") from exc
        return value

    @field_validator("console_oidc_roles", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = [item.partition("=") for item in split_commas(value)]
        if any(not sep or not key.strip() for key, sep, _ in pairs):
            raise ValueError("write each mapping as <claim value>=<role>, comma-separated")
        return {key.strip(): role.strip() for key, _, role in pairs}

    @field_validator("console_oidc_roles")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        known = ("viewer", "support", "operator", "security")
        for claim_value, role in value.items():
            if role not in known:
                raise ValueError(f"{claim_value!r} maps to {role!r}, not one of {', '.join(known)}")
        return value

    @field_validator("token_rate_client_shares", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = [item.partition("=") for item in split_commas(value)]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError("write each share as <client id>=<fraction>, comma-separated")
        return {key.strip(): fraction.strip() for key, _, fraction in pairs}

    @field_validator("public_url", "contio_auth_url", "contio_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _reserves_fit(self) -> Settings:
        if self.token_rate_refresher_reserve + self.token_rate_operator_reserve >= 1:
            raise ValueError(
                f"{ENV_PREFIX}TOKEN_RATE_REFRESHER_RESERVE + {ENV_PREFIX}TOKEN_RATE_OPERATOR_RESERVE "
                "must be less than 1"
            )
        if self.console_oidc_issuer is not None and not self.console_oidc_client_id:
            raise ValueError(
                f"{ENV_PREFIX}CONSOLE_OIDC_ISSUER needs {ENV_PREFIX}CONSOLE_OIDC_CLIENT_ID"
            )
        if self.token_rate_refresher_reserve > 1 - self.token_rate_reserve:
            raise ValueError(
                f"{ENV_PREFIX}TOKEN_RATE_REFRESHER_RESERVE cannot exceed what the refresher may "
                f"spend (1 - {ENV_PREFIX}TOKEN_RATE_RESERVE)"
            )
        return self

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/oauth/callback"

    def require(self, *names: str) -> None:
        """Stop with one clear message listing every named setting that has no value."""
        missing = [name for name in names if getattr(self, name) is None]
        if missing:
            listed = ", ".join(f"{ENV_PREFIX}{name.upper()}" for name in missing)
            raise SettingsError(
                f"missing required setting(s): {listed} "
                f"(set the variable, or {ENV_PREFIX}<NAME>_FILE to a file holding it)"
            )


SECRET_FIELDS = tuple(
    name for name, field in Settings.model_fields.items() if field.annotation == SecretStr | None
)


def secrets_from_files(environ: Mapping[str, str]) -> dict[str, str]:
    """Read ``GATEWAY_<SECRET>_FILE`` files; naming a secret both ways is an error."""
    values: dict[str, str] = {}
    for name in SECRET_FIELDS:
        variable = f"{ENV_PREFIX}{name.upper()}"
        path = environ.get(f"{variable}_FILE")
        if not path:
            continue
        if environ.get(variable):
            raise SettingsError(f"set either {variable} or {variable}_FILE, not both")
        try:
            values[name] = Path(path).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"cannot read {variable}_FILE ({path}): {exc.strerror}") from exc
    return values


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from the environment (and secret files), then apply ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = secrets_from_files(env)
    values.update(overrides)
    if environ is None:
        return Settings(**values)
    # An explicit environment replaces os.environ entirely, which keeps tests hermetic.
    secret_files = {f"{ENV_PREFIX}{name.upper()}_FILE" for name in SECRET_FIELDS}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and key not in secret_files:
            values.setdefault(key[len(ENV_PREFIX) :].lower(), value)
    return Settings.model_validate(values)
