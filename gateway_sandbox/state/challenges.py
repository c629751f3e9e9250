"""Passwordless sign-in: one-time codes, the outbox they are "mailed" to, and the
authenticated sessions a verified code opens.

``/auth/initiate`` opens a *challenge*: a 6-digit code valid for ``otp_ttl`` seconds (3 minutes at
Contio) and an opaque session string naming it. ``/auth/verify`` answers it; the right code opens an
*authenticated session* of the user for ``session_ttl`` seconds (30 minutes), during which
check-consent and the headless ``POST /oauth2/authorize`` act for them.

Choices where Contio says nothing:

- A challenge takes ``otp_max_attempts`` wrong codes (5); the last of them closes it, and a code
  is single-use. Every refusal is ``invalid_code`` as documented, with ``reason`` (``mismatch``,
  ``expired``, ``exhausted``, ``used``) and ``attempts_remaining`` added to say which.
- Each initiate opens a new challenge with a new code; earlier ones stay valid until they expire.
- A new verified code replaces the user's authenticated session (and restarts its 30 minutes).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

SESSION_PREFIX = "AYAB"  # what Contio's (Cognito's) session strings start with


@dataclass(frozen=True)
class Message:
    """A one-time code the sandbox would have emailed."""

    email: str
    code: str
    sent_at: float


@dataclass
class _Challenge:
    session: str
    user_id: UUID
    email: str
    code: str
    expires_at: float
    attempts: int = 0
    closed: str | None = None  # why it can no longer be answered: "used" or "exhausted"

    def __repr__(self) -> str:
        return f"_Challenge(session=***, code=***, email={self.email!r}, closed={self.closed!r})"


class UnknownSession(Exception):
    """The session string names no challenge of this email."""


class CodeRejected(Exception):
    """The code does not open the session; ``reason`` says why."""

    def __init__(self, reason: str, message: str, attempts_remaining: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.attempts_remaining = attempts_remaining


class SessionExpired(Exception):
    """The user's authenticated session has run out: verify a new code."""


@dataclass(frozen=True)
class Lifetimes:
    otp_ttl: float
    session_ttl: float
    otp_max_attempts: int


class Challenges:
    def __init__(self, lifetimes: Lifetimes, clock: Callable[[], float]) -> None:
        self.lifetimes = lifetimes
        self._clock = clock
        self._lock = threading.Lock()
        self._challenges: dict[str, _Challenge] = {}
        self._sessions: dict[UUID, float] = {}  # user id -> when their session ends
        self._outbox: list[Message] = []

    def open(self, user_id: UUID, email: str) -> str:
        """A new challenge for the user; its code goes to the outbox. Returns the session string."""
        now = self._clock()
        challenge = _Challenge(
            session=SESSION_PREFIX + secrets.token_urlsafe(48),
            user_id=user_id,
            email=email,
            code=f"{secrets.randbelow(1_000_000):06d}",
            expires_at=now + self.lifetimes.otp_ttl,
        )
        with self._lock:
            self._challenges[challenge.session] = challenge
            self._outbox.append(Message(email, challenge.code, now))
        return challenge.session

    def verify(self, email: str, session: str, code: str) -> tuple[UUID, float]:
        """Answer a challenge; the user's id and when their new authenticated session ends."""
        now = self._clock()
        limit = self.lifetimes.otp_max_attempts
        with self._lock:
            challenge = self._challenges.get(session)
            if challenge is None or challenge.email != email:
                raise UnknownSession("The session is unknown or was opened for another email.")
            if challenge.closed == "used":
                raise CodeRejected("used", "The code was already used; initiate again.", 0)
            if challenge.closed == "exhausted":
                raise CodeRejected("exhausted", "Too many wrong codes; initiate again.", 0)
            if now >= challenge.expires_at:
                raise CodeRejected("expired", "The code has expired; initiate again.", 0)
            if not secrets.compare_digest(code.strip().encode(), challenge.code.encode()):
                challenge.attempts += 1
                remaining = limit - challenge.attempts
                if remaining <= 0:
                    challenge.closed = "exhausted"
                    raise CodeRejected("exhausted", "Too many wrong codes; initiate again.", 0)
                raise CodeRejected("mismatch", "The code is not correct.", remaining)
            challenge.closed = "used"
            ends = now + self.lifetimes.session_ttl
            self._sessions[challenge.user_id] = ends
            return challenge.user_id, ends

    def session(self, user_id: UUID) -> bool:
        """Whether the user has a live authenticated session: ``False`` if they never had one,
        ``SessionExpired`` if it ran out."""
        with self._lock:
            ends = self._sessions.get(user_id)
        if ends is None:
            return False
        if self._clock() >= ends:
            raise SessionExpired("The authenticated session has expired; verify a new code.")
        return True

    def outbox(self, email: str | None = None) -> list[Message]:
        """Codes sent, oldest first; only those to ``email`` when given."""
        with self._lock:
            return [m for m in self._outbox if email is None or m.email == email]

    def clear_outbox(self) -> None:
        with self._lock:
            self._outbox.clear()
