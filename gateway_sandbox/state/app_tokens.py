"""Access tokens of the client-credentials grant: the partner app's own, for no user.

Each token remembers what it was issued with (scopes, audience, resources) so the app API can show
it; it lives ``access_token_ttl`` seconds by the sandbox's clock, and revoking it ends it at once.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, repr=False)
class AppToken:
    token: str
    client_id: str
    scopes: tuple[str, ...]
    audience: str | None
    resources: tuple[str, ...]
    issued_at: float
    expires_at: float

    def __repr__(self) -> str:
        return f"AppToken(client_id={self.client_id!r}, scopes={self.scopes!r}, token=***)"


class AppTokens:
    def __init__(self, clock: Callable[[], float], ttl: int) -> None:
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._tokens: dict[str, AppToken] = {}

    def issue(
        self,
        client_id: str,
        scopes: tuple[str, ...],
        audience: str | None,
        resources: tuple[str, ...],
    ) -> AppToken:
        now = self._clock()
        token = AppToken(
            token=f"app_{secrets.token_urlsafe(24)}",
            client_id=client_id,
            scopes=scopes,
            audience=audience,
            resources=resources,
            issued_at=now,
            expires_at=now + self._ttl,
        )
        with self._lock:
            self._tokens[token.token] = token
        return token

    def live(self, token: str) -> AppToken | None:
        """The token, if it was issued here, is not revoked and has not expired."""
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found.expires_at <= self._clock():
            return None
        return found

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._tokens.pop(token, None) is not None

    def count(self) -> int:
        """How many tokens are live now."""
        now = self._clock()
        with self._lock:
            return sum(1 for token in self._tokens.values() if token.expires_at > now)
