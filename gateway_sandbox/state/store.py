"""The sandbox's whole state, in memory: codes and consents here, grants and tokens in ``grants``
(indexed), users and workspaces in its ``directory``, one-time codes in ``challenges``, each
workspace's meetings in its ``content``; plus the fault switch, counters, idempotency keys, rate
limiter and webhook deliveries (each thread-safe on its own).

Every method runs to completion under one lock and never awaits, so the store is consistent for the
server's event loop and for a test thread that inspects it at the same time.

Choices where Contio documents nothing, made the way a careful provider would:

- Refresh tokens rotate (unless ``rotate_refresh_tokens`` is off: then a refresh issues an access
  token only, and the refresh token lives on until it expires or is revoked).
  Every refresh returns a new refresh token and retires the one presented.
  Presenting a retired refresh token again is treated as theft (RFC 9700 §4.14.2): the answer is
  ``invalid_grant`` and the whole grant, with every token it issued, is revoked. With
  ``refresh_reuse_grace`` set, the token just rotated away replays the same new pair for that many
  seconds (a client that lost the response can retry); the replay is not a new rotation.
- An authorization code is consumed by the first exchange attempt, successful or not. Presenting it
  again is ``invalid_grant`` and revokes the grant it produced (RFC 6749 §4.1.2).
- A ``code_verifier`` sent for a code issued without a challenge is refused (RFC 9700 §2.1.1).
- Access tokens stay valid until they expire even after a refresh; revoking a refresh token (or the
  user's grant) ends its access tokens too.
- Revoking a user's connection (``revoke_user``, ``revoke_connection``) sends the partner a
  ``user.connection.revoked`` webhook when ``webhook_url`` is set; token revocation by the client
  itself (RFC 7009) and reuse detection do not, as they are not the user's or admin's doing.
- A consent (on the page or through the headless ``POST /oauth2/authorize``) is remembered per user
  until their connection is revoked; check-consent reports it for the scopes it covers.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import uuid
from uuid import UUID

from gateway_sandbox import pkce
from gateway_sandbox.client_assertions import ClientAssertions
from gateway_sandbox.faults import FaultSwitch
from gateway_sandbox.idempotency import IdempotencyKeys
from gateway_sandbox.options import SandboxOptions
from gateway_sandbox.state import partner_connections, sample_data, webhook_events
from gateway_sandbox.state.challenges import Challenges, Lifetimes
from gateway_sandbox.state.content import WorkspaceContent
from gateway_sandbox.state.content_records import rfc3339
from gateway_sandbox.state.directory import Directory
from gateway_sandbox.state.grants import Grants
from gateway_sandbox.state.records import (
    AuthorizationCode,
    Connection,
    Grant,
    IssuedToken,
    LiveToken,
    TokenSet,
    User,
    Workspace,
)
from gateway_sandbox.state.sign_ins import SignIns
from gateway_sandbox.state.webhook_delivery import DeliveryLog, WebhookSender
from gateway_sandbox.state.webhook_settings import WebhookSettings
from gateway_sandbox.stats import Counters
from gateway_sandbox.waf import RateLimiter

DEMO_EMAIL = "demo@example.com"  # seeded by default (see ``seed``); auto-approve's fallback user
ACCESS_TOKEN_PREFIX = "cto_at_v1_"
REFRESH_TOKEN_PREFIX = "cto_rt_v1_"


class InvalidGrant(Exception):
    """A code or refresh token that cannot be redeemed; the message says why."""


class SandboxStore:
    """In-memory Contio. ``app.state.sandbox`` is this object, for tests to inspect."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}
        self._grants = Grants()
        self._consents: dict[UUID, set[str]] = {}
        self._content: dict[UUID, WorkspaceContent] = {}
        self.directory = Directory(options.client_id, options.clock, options.seed)
        lifetimes = Lifetimes(options.otp_ttl, options.session_ttl, options.otp_max_attempts)
        self.challenges = Challenges(lifetimes, options.clock)
        self.faults = FaultSwitch(options.faults)
        # The instance token responses name; ``POST /_sandbox/instance`` moves it.
        self.instance_url = options.instance_url
        self.sign_ins = SignIns(options.clock)
        self.counters = Counters()
        self.idempotency = IdempotencyKeys(options.clock)
        self.rate_limiter = RateLimiter(options.rate_limits, options.clock)
        self.deliveries = DeliveryLog(options.clock)
        self.webhook_settings = WebhookSettings(
            options.clock,
            options.webhook_disable_after_abandoned,
            options.webhook_disable_after_seconds,
        )
        self.webhooks = WebhookSender(
            options, self.deliveries, self.counters, self.webhook_settings
        )
        self.events = webhook_events.Publisher(options, self.webhooks)
        self.client_assertions = (
            ClientAssertions(
                options.client_id, options.clock, options.client_jwks, options.client_jwks_url
            )
            if options.client_authentication == "private_key_jwt"
            else None
        )

    def now(self) -> float:
        return self.options.clock()

    # Users, workspaces and what is in them

    def sign_in(self, email: str, name: str | None = None) -> User:
        """The user with this email, created with a personal workspace on first sign-in."""
        return self.directory.sign_in(email, name)

    def users(self) -> list[User]:
        return self.directory.users()

    def user_by_email(self, email: str) -> User | None:
        return self.directory.user_by_email(email)

    def user_by_id(self, user_id: UUID) -> User | None:
        return self.directory.user_by_id(user_id)

    def workspace(self, workspace_id: UUID) -> Workspace:
        return self.directory.workspace(workspace_id)

    def workspaces(self) -> list[tuple[Workspace, int]]:
        """This partner app's workspaces with their number of users, oldest first."""
        return self.directory.workspaces()

    def content(self, workspace_id: UUID) -> WorkspaceContent:
        """The workspace's meetings and the rest, generated (and seeded) on first use."""
        with self._lock:
            found = self._content.get(workspace_id)
            if found is None:
                workspace = self.directory.workspace(workspace_id)
                members = self.directory.members(workspace_id)
                seeded = sample_data.for_workspace(
                    workspace, members, self.options.seed, self.now()
                )
                found = self._content[workspace_id] = WorkspaceContent(workspace_id, seeded)
            return found

    # Consents

    def record_consent(self, user: User, scopes: tuple[str, ...]) -> None:
        with self._lock:
            self._consents.setdefault(user.id, set()).update(scopes)

    def has_consent(self, user: User, scopes: tuple[str, ...]) -> bool:
        with self._lock:
            return set(scopes) <= self._consents.get(user.id, set())

    # Authorization codes

    def issue_code(
        self,
        user: User,
        redirect_uri: str,
        scopes: tuple[str, ...],
        nonce: str | None,
        code_challenge: str | None,
    ) -> str:
        record = AuthorizationCode(
            code=secrets.token_urlsafe(32),
            client_id=self.options.client_id,
            redirect_uri=redirect_uri,
            user_id=user.id,
            scopes=scopes,
            nonce=nonce,
            code_challenge=code_challenge,
            expires_at=self.now() + self.options.code_ttl,
        )
        with self._lock:
            self._codes[record.code] = record
        return record.code

    def redeem_code(
        self, code: str, client_id: str, redirect_uri: str | None, code_verifier: str | None
    ) -> TokenSet:
        with self._lock:
            record = self._codes.get(code)
            if record is None:
                raise InvalidGrant("The authorization code is unknown.")
            if record.used:
                if record.grant_id is not None:
                    self._revoke_grant(record.grant_id)
                raise InvalidGrant("The authorization code has already been used.")
            record.used = True
            if self.now() >= record.expires_at:
                raise InvalidGrant("The authorization code has expired.")
            if record.client_id != client_id:
                raise InvalidGrant("The authorization code was issued to another client.")
            if redirect_uri != record.redirect_uri:
                raise InvalidGrant("redirect_uri does not match the authorization request.")
            if problem := pkce.problem(record.code_challenge, code_verifier):
                raise InvalidGrant(problem)
            grant = Grant(
                id=uuid.uuid4(),
                client_id=client_id,
                user_id=record.user_id,
                scopes=record.scopes,
                created_at=self.now(),
            )
            self._grants.add(grant)
            record.grant_id = grant.id
            return self._issue(grant, nonce=record.nonce)

    # Tokens

    def refresh(self, refresh_token: str, client_id: str) -> TokenSet:
        with self._lock:
            record = self._grants.token(refresh_token)
            if record is None or record.kind != "refresh_token":
                raise InvalidGrant("The refresh token is unknown.")
            grant = self._grants.get(record.grant_id)
            if grant.client_id != client_id:
                raise InvalidGrant("The refresh token was issued to another client.")
            if record.revoked_at is not None or grant.revoked_at is not None:
                raise InvalidGrant("The refresh token has been revoked.")
            if record.rotated_at is not None:
                if (replay := self._replay(record)) is not None:
                    self.counters.add("refresh_replays")
                    return replay
                self.counters.add("reuse_detections")
                self._revoke_grant(grant.id)
                raise InvalidGrant("The refresh token was already used; the grant is revoked.")
            if self.now() >= record.expires_at:
                raise InvalidGrant("The refresh token has expired.")
            if not self.options.rotate_refresh_tokens:
                fresh = self._issue(grant, nonce=None)
                self._grants.forget_token(
                    fresh.refresh_token.token
                )  # the access token alone is new
                return dataclasses.replace(fresh, refresh_token=record)
            record.rotated_at = self.now()
            record.successor = self._issue(grant, nonce=None)
            return record.successor

    def find_live(self, token: str) -> LiveToken | None:
        """The token if it is still active: neither expired, revoked, rotated nor of a dead grant."""
        with self._lock:
            record = self._grants.token(token)
            if record is None:
                return None
            grant = self._grants.get(record.grant_id)
            dead = (
                record.revoked_at is not None
                or record.rotated_at is not None
                or grant.revoked_at is not None
                or self.now() >= record.expires_at
            )
            user = self.directory.user_by_id(grant.user_id)
            return None if dead or user is None else LiveToken(record, grant, user)

    def authenticate(self, access_token: str) -> LiveToken | None:
        """The live access token behind an API call; the call counts as a use of its connection."""
        live = self.find_live(access_token)
        if live is None or live.token.kind != "access_token":
            return None
        with self._lock:
            live.grant.last_used_at = self.now()
        return live

    def revoke_token(self, token: str, client_id: str) -> None:
        """RFC 7009: a refresh token takes its grant down with it; unknown tokens are ignored."""
        with self._lock:
            record = self._grants.token(token)
            if record is None or self._grants.get(record.grant_id).client_id != client_id:
                return
            if record.kind == "refresh_token":
                self._revoke_grant(record.grant_id)
            elif record.revoked_at is None:
                record.revoked_at = self.now()

    def revoke_user(self, email: str) -> int:
        """Revoke every grant of this user (as Contio's admin "revoke connection"); returns how many."""
        user = self.user_by_email(email)
        return 0 if user is None else self._revoke_connection_of(user)

    # Connections (the admin API's view of grants)

    def connections(self) -> list[Connection]:
        """Every user's connection to the partner app, oldest first."""
        with self._lock:
            found = [self._connection_of(user) for user in self.directory.users()]
        return sorted((c for c in found if c is not None), key=lambda c: c.activated_at)

    def connection(self, connection_id: UUID) -> Connection | None:
        return next((c for c in self.connections() if c.id == connection_id), None)

    def connection_id(self, user: User) -> UUID:
        return partner_connections.connection_id(self.options.client_id, user.id)

    def revoke_connection(self, connection_id: UUID) -> Connection | None:
        """Revoke every token of the connection's user; ``None`` if there is no such connection."""
        connection = self.connection(connection_id)
        if connection is None:
            return None
        self._revoke_connection_of(connection.user)
        return self.connection(connection_id)

    # Webhook deliveries and counters

    def retry_delivery(self, delivery_id: UUID) -> bool:
        """Queue a settled (delivered or abandoned) delivery again; False if it is still in flight."""
        record = self.deliveries.get(delivery_id)
        if record is None or record.status not in ("delivered", "abandoned"):
            return False
        self.webhooks.retry(delivery_id)
        return True

    def stats(self) -> dict[str, int]:
        return self.counters.snapshot()

    def reset_stats(self) -> None:
        self.counters.reset()

    def close(self) -> None:
        """Stop webhook deliveries still in flight."""
        self.webhooks.close()

    def grants(self, email: str) -> list[Grant]:
        user = self.directory.user_by_email(email)
        with self._lock:
            return [] if user is None else self._grants.of_user(user.id)

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token string ever issued, live or not."""
        with self._lock:
            return self._grants.token_strings()

    def _revoke_connection_of(self, user: User) -> int:
        with self._lock:
            live = [grant.id for grant in self._grants.of_user(user.id) if grant.revoked_at is None]
            for grant_id in live:
                self._revoke_grant(grant_id)
            self._consents.pop(user.id, None)
        if live:
            revoked = {
                "connection_id": str(self.connection_id(user)),
                "revoked_at": rfc3339(self.now()),
            }
            self.events.publish(webhook_events.CONNECTION_REVOKED, revoked, for_user=user)
        return len(live)

    # Internals: callers hold the lock

    def _connection_of(self, user: User) -> Connection | None:
        grants = self._grants.of_user(user.id)
        if not grants:
            return None
        return partner_connections.summarize(
            self.options.client_id, user, grants, self._grants.tokens_of(grants), self.now()
        )

    def _replay(self, rotated: IssuedToken) -> TokenSet | None:
        """The pair that replaced ``rotated``, while the grace lasts and that pair is untouched."""
        successor = rotated.successor
        assert rotated.rotated_at is not None
        if successor is None or self.now() - rotated.rotated_at >= self.options.refresh_reuse_grace:
            return None
        fresh = successor.refresh_token
        return successor if fresh.rotated_at is None and fresh.revoked_at is None else None

    def _revoke_grant(self, grant_id: UUID) -> None:
        grant = self._grants.get(grant_id)
        if grant.revoked_at is None:
            grant.revoked_at = self.now()

    def _issue(self, grant: Grant, nonce: str | None) -> TokenSet:
        now = self.now()
        access = IssuedToken(
            token=ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32),
            kind="access_token",
            grant_id=grant.id,
            issued_at=now,
            expires_at=now + self.options.access_token_ttl,
        )
        refresh = IssuedToken(
            token=REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32),
            kind="refresh_token",
            grant_id=grant.id,
            issued_at=now,
            expires_at=now + self.options.refresh_token_ttl,
        )
        self._grants.add_token(access)
        self._grants.add_token(refresh)
        user = self.directory.user_by_id(grant.user_id)
        assert user is not None  # users are never deleted
        return TokenSet(grant, user, access, refresh, nonce)
