"""What the console keeps of a sign-in at the identity provider, sealed with the encryption key ring
so that the browser which carries it can neither read nor change it: the tokens of a signed-in
operator (inside their session cookie), and the secrets of a sign-in under way (a cookie of its own,
scoped to ``/console/sso``, for the ten minutes a sign-in may take).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict, dataclass

from starlette.requests import Request
from starlette.responses import Response

from gateway.console.console_sessions import secure
from gateway.kit.crypto import Binding, DecryptionError, KeyRing
from gateway.providers import TokenSet
from gateway.settings import Settings

PENDING_COOKIE = "gateway_console_sso"
PENDING_PATH = "/console/sso"
PENDING_SECONDS = 600
ID_TOKEN_MAX_CHARS = 1536
_PENDING = Binding("console", "sso_sign_in", "pending")


@dataclass(frozen=True, repr=False)
class ProviderTokens:
    """The identity provider's tokens of one operator, as few as will do, for a cookie holds about
    4 KB: the refresh token re-checks their role (the access token is kept only when the provider
    gave no refresh token, for userinfo); the ID token is the sign-out's ``id_token_hint``, kept up
    to ``ID_TOKEN_MAX_CHARS`` (a larger one is left out, and the sign-out names the client alone)."""

    refresh_token: str | None
    access_token: str | None
    id_token: str | None

    def __repr__(self) -> str:
        return "ProviderTokens(***)"

    @classmethod
    def of(cls, tokens: TokenSet, *, previous: ProviderTokens | None = None) -> ProviderTokens:
        """From a token response; a refresh answer without a new ID token keeps the last one."""
        refresh = tokens.refresh_token.get_secret_value() if tokens.refresh_token else None
        id_token = tokens.id_token.get_secret_value() if tokens.id_token is not None else None
        if id_token is None and previous is not None:
            id_token = previous.id_token
        return cls(
            refresh_token=refresh,
            access_token=None if refresh else tokens.access_token.get_secret_value(),
            id_token=id_token if id_token and len(id_token) <= ID_TOKEN_MAX_CHARS else None,
        )

    def seal(self, keys: KeyRing, subject: str) -> str:
        return keys.seal(json.dumps(asdict(self)), _tokens_binding(subject))

    @classmethod
    def open(cls, sealed: str, keys: KeyRing, subject: str) -> ProviderTokens | None:
        """The tokens sealed for ``subject``; None when they do not open (a key gone from the ring)."""
        try:
            return cls(**json.loads(keys.open(sealed, _tokens_binding(subject))))
        except (DecryptionError, ValueError, TypeError):
            return None


def _tokens_binding(subject: str) -> Binding:
    return Binding("console", "sso_tokens", subject)


@dataclass(frozen=True, repr=False)
class PendingSignIn:
    """A sign-in sent to the identity provider and not yet back: what the callback must match."""

    state: str
    nonce: str
    code_verifier: str
    next: str
    max_age: int | None
    started_at: int

    def __repr__(self) -> str:
        return f"PendingSignIn(next={self.next!r}, secrets=***)"

    def matches(self, state: object, now: int) -> bool:
        return (
            isinstance(state, str)
            and hmac.compare_digest(state.encode(), self.state.encode())
            and 0 <= now - self.started_at <= PENDING_SECONDS
        )


def write_pending(
    response: Response, pending: PendingSignIn, keys: KeyRing, settings: Settings
) -> None:
    response.set_cookie(
        PENDING_COOKIE,
        keys.seal(json.dumps(asdict(pending)), _PENDING),
        max_age=PENDING_SECONDS,
        path=PENDING_PATH,
        secure=secure(settings),
        httponly=True,
        samesite="lax",  # sent on the identity provider's redirect back, a top-level GET
    )


def read_pending(request: Request, keys: KeyRing) -> PendingSignIn | None:
    text = request.cookies.get(PENDING_COOKIE)
    if not text:
        return None
    try:
        return PendingSignIn(**json.loads(keys.open(text, _PENDING)))
    except (DecryptionError, ValueError, TypeError):
        return None


def clear_pending(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        PENDING_COOKIE, path=PENDING_PATH, secure=secure(settings), httponly=True, samesite="lax"
    )
