"""What the sandbox remembers: users and their workspaces, authorization codes, grants, tokens,
connections and webhook deliveries.

Times are Unix seconds read from the sandbox clock. A grant is what one consent produced; its access
and refresh tokens die with it. A connection is Contio's admin view of one user's grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Workspace:
    """``client_id`` is the partner app whose user owns the workspace: only that partner may
    provision users into it. ``sample_data`` says whether it gets generated meetings."""

    id: UUID
    name: str
    created_at: float
    client_id: str
    sample_data: bool = True


@dataclass(frozen=True)
class User:
    id: UUID
    email: str
    name: str
    created_at: float
    workspace_id: UUID
    workspace_role: str
    plan_type: str
    timezone: str
    locale: str

    @property
    def given_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def family_name(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else ""


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: UUID
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    expires_at: float
    used: bool = False
    grant_id: UUID | None = None

    def __repr__(self) -> str:
        return f"AuthorizationCode(code=***, user_id={self.user_id}, used={self.used})"


@dataclass
class Grant:
    id: UUID
    client_id: str
    user_id: UUID
    scopes: tuple[str, ...]
    created_at: float
    revoked_at: float | None = None
    last_used_at: float | None = None

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


@dataclass
class IssuedToken:
    """An access or a refresh token; ``rotated_at`` is only ever set on refresh tokens."""

    token: str
    kind: str  # "access_token" or "refresh_token"
    grant_id: UUID
    issued_at: float
    expires_at: float
    revoked_at: float | None = None
    rotated_at: float | None = None
    successor: TokenSet | None = None  # what the rotation handed out, for grace-period replays

    def __repr__(self) -> str:
        return f"IssuedToken(token=***, kind={self.kind!r}, grant_id={self.grant_id})"


@dataclass(frozen=True)
class LiveToken:
    """A token that is still active, with the grant and user behind it."""

    token: IssuedToken
    grant: Grant
    user: User

    def has_scope(self, *any_of: str) -> bool:
        return any(scope in self.grant.scopes for scope in any_of)


@dataclass(frozen=True)
class TokenSet:
    """What a successful code exchange or refresh hands out."""

    grant: Grant
    user: User
    access_token: IssuedToken
    refresh_token: IssuedToken
    nonce: str | None = None


@dataclass(frozen=True)
class Connection:
    """One user's authorization of the partner app, as Contio's admin API shows it.

    ``status`` is ``revoked`` once every grant is revoked, ``active`` while a refresh token is live,
    and ``expired`` otherwise; ``expires_at`` is when the newest refresh token expires.
    """

    id: UUID
    user: User
    scopes: tuple[str, ...]
    status: str
    expires_at: float | None
    activated_at: float
    last_used_at: float | None
    updated_at: float


@dataclass
class WebhookDelivery:
    """One event on its way to the partner's webhook URL; ``body`` is exactly the bytes signed."""

    id: UUID
    event_id: UUID
    event_type: str
    body: bytes
    created_at: float
    status: str = "pending"  # pending, delivered, failed, abandoned
    retry_count: int = 0
    http_status_code: int | None = None
    next_retry_at: float | None = None
    delivered_at: float | None = None
    error_message: str | None = None
