"""How one sandbox instance behaves: its single registered client, lifetimes, clock, admin key,
webhook target, seeded data, rate limits and the faults it starts with."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from gateway_sandbox import seed as seeds
from gateway_sandbox.faults import Faults
from gateway_sandbox.waf import RateLimits

DAY = 86400
_SECRETS = ("client_secrets", "admin_api_key", "webhook_secret", "api_keys", "basic_credentials")
ClientAuthentication = Literal["secret", "private_key_jwt", "none"]


@dataclass(frozen=True, repr=False)
class SandboxOptions:
    """The partner app registered at the sandbox and the rules its tokens follow.

    ``client_secrets`` is a tuple so that a secret rotation can be emulated: every secret in it is
    accepted. ``clock`` returns Unix seconds; tests inject their own to move time instead of
    sleeping. ``issuer`` defaults to the origin each request came in on.

    ``refresh_reuse_grace``: for this many seconds after a rotation, the rotated-away refresh token
    replays the pair that replaced it instead of counting as reuse (0 turns the grace off).
    ``webhook_url``: where events go (``None``: no webhooks); ``webhook_retry_delays`` are the
    pauses before each retry of a failed delivery. The webhook turns itself off after
    ``webhook_disable_after_abandoned`` abandoned deliveries in a row, or after failing for more
    than ``webhook_disable_after_seconds`` (Contio's rule: 50, and 72 hours).

    ``otp_ttl``: how long a one-time code of ``/auth/initiate`` is valid (3 minutes at Contio);
    ``session_ttl``: how long the session a verified code opens lasts (30 minutes);
    ``otp_max_attempts``: wrong codes a challenge takes before it closes.
    ``seed``: the workspaces and users (and meetings) the sandbox starts with.
    ``rate_limits``: the limits the ``enforce_rate_limits`` fault applies.
    ``instance_url``: when set, a Salesforce-like provider: token responses carry it
    (``{origin}`` stands for the origin the request came in on), and the user API is served
    under ``/instances/{name}`` too (``instances``).

    Other providers' shapes (Contio's are the defaults): ``scope_separator`` between scopes in the
    authorization request and the token response (Slack's is a comma); ``rotate_refresh_tokens``
    false keeps a refresh token for the grant's life and leaves it out of refresh answers.
    ``client_authentication``: ``secret`` (Basic or in the form, Contio's), ``private_key_jwt``
    (RFC 7523 assertions signed with a key of ``client_jwks``, or of the JWK Set at
    ``client_jwks_url``, fetched when an assertion names an unknown ``kid``), or ``none`` (a public
    client: its ``client_id`` only, PKCE required).
    ``api_keys`` and ``basic_credentials`` (user, password): what the API-key-protected API
    (``keyed_api``) accepts from the start.

    As a company's identity provider: ``remember_sign_ins`` keeps a session at the sandbox after a
    sign-in on the consent page, so that the browser's next authorization requests are answered at
    once as that user, as single sign-on does (see ``state.sign_ins``).
    """

    client_id: str = "sandbox-client"
    client_secrets: tuple[str, ...] = ("sandbox-secret",)
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1:8000/oauth/callback",)
    auto_approve: bool = False
    code_ttl: int = 300
    access_token_ttl: int = DAY
    refresh_token_ttl: int = 30 * DAY
    clock: Callable[[], float] = field(default=time.time, compare=False)
    issuer: str | None = None
    app_name: str = "Sandbox Partner App"
    refresh_reuse_grace: float = 0
    admin_api_key: str = "sandbox-admin-key"
    webhook_url: str | None = None
    webhook_secret: str = "sandbox-webhook-secret"
    webhook_retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)
    webhook_disable_after_abandoned: int = 50
    webhook_disable_after_seconds: float = 72 * 3600
    faults: Faults = field(default_factory=Faults)
    otp_ttl: float = 180
    session_ttl: float = 1800
    otp_max_attempts: int = 5
    seed: seeds.Seed = field(default=seeds.DEFAULT, compare=False)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    instance_url: str | None = None
    scope_separator: str = " "
    rotate_refresh_tokens: bool = True
    client_authentication: ClientAuthentication = "secret"
    client_jwks_url: str | None = None
    client_jwks: dict[str, Any] | None = field(default=None, compare=False)
    api_keys: tuple[str, ...] = ()
    basic_credentials: tuple[tuple[str, str], ...] = ()
    remember_sign_ins: bool = False

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if not self.client_secrets or not all(self.client_secrets):
            raise ValueError("at least one non-empty client secret is required")
        if not self.redirect_uris:
            raise ValueError("at least one redirect URI is required")
        for name in ("code_ttl", "access_token_ttl", "refresh_token_ttl", "otp_ttl", "session_ttl"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.refresh_reuse_grace < 0:
            raise ValueError("refresh_reuse_grace must not be negative")
        if not self.admin_api_key or not self.webhook_secret:
            raise ValueError("admin_api_key and webhook_secret must not be empty")
        if any(delay < 0 for delay in self.webhook_retry_delays):
            raise ValueError("webhook_retry_delays must not be negative")
        if self.webhook_disable_after_abandoned < 1 or self.webhook_disable_after_seconds <= 0:
            raise ValueError("the webhook auto-disable thresholds must be positive")
        if self.otp_max_attempts < 1:
            raise ValueError("otp_max_attempts must be at least 1")
        if len(self.scope_separator) != 1:
            raise ValueError("scope_separator must be one character")
        keys = self.client_jwks_url is not None or self.client_jwks is not None
        if (self.client_authentication == "private_key_jwt") != keys:
            raise ValueError("client_jwks_url or client_jwks go with private_key_jwt, and only it")

    def __repr__(self) -> str:
        shown = (
            f"{f.name}={'***' if f.name in _SECRETS else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"SandboxOptions({', '.join(shown)})"
