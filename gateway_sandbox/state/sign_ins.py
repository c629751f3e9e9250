"""The sandbox as a company's identity provider: who is signed in at it, since when, and their groups.

A sign-in on the consent page opens a session at the sandbox (a cookie in the browser): while it
lasts, an authorization request is answered at once as that user, with the ``auth_time`` of that
sign-in, unless it asks for a new one (``prompt=login``, or a ``max_age`` older than the sign-in).
Logging out (the ``end_session_endpoint``) ends the session. Groups are set per user through the
control API and appear as the ``groups`` claim of ID tokens and userinfo.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class SignIn:
    email: str
    auth_time: int


class SignIns:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, SignIn] = {}
        self._last: dict[str, int] = {}
        self._groups: dict[str, tuple[str, ...]] = {}

    def open(self, email: str) -> str:
        """A new session for ``email``, signed in now; returns its id (the cookie's value)."""
        session_id = secrets.token_urlsafe(24)
        now = int(self._clock())
        with self._lock:
            self._sessions[session_id] = SignIn(email, now)
            self._last[email] = now
        return session_id

    def current(self, session_id: str | None, *, max_age: int | None) -> SignIn | None:
        """The session, if it exists and (with ``max_age``) began no longer ago than that."""
        with self._lock:
            found = self._sessions.get(session_id) if session_id else None
        if found is None or (max_age is not None and self._clock() - found.auth_time > max_age):
            return None
        return found

    def reuse(self, sign_in: SignIn) -> None:
        """Authorizing on the strength of an earlier sign-in: its ``auth_time`` is the user's."""
        with self._lock:
            self._last[sign_in.email] = sign_in.auth_time

    def auth_time(self, email: str) -> int:
        """When ``email`` last signed in (now, if never through a session: auto-approval)."""
        with self._lock:
            return self._last.get(email, int(self._clock()))

    def end(self, session_id: str | None, email: str | None) -> int:
        """End the session ``session_id`` and every session of ``email``; how many ended."""
        with self._lock:
            ended = [
                sid
                for sid, found in self._sessions.items()
                if sid == session_id or (email is not None and found.email == email)
            ]
            for sid in ended:
                del self._sessions[sid]
        return len(ended)

    def age(self, email: str, seconds: int) -> None:
        """Move ``email``'s sign-ins ``seconds`` into the past (a test's way to let time pass)."""
        with self._lock:
            for sid, found in list(self._sessions.items()):
                if found.email == email:
                    self._sessions[sid] = replace(found, auth_time=found.auth_time - seconds)
            if email in self._last:
                self._last[email] -= seconds

    def set_groups(self, email: str, groups: Sequence[str]) -> None:
        with self._lock:
            self._groups[email] = tuple(groups)

    def groups(self, email: str) -> tuple[str, ...] | None:
        """The user's groups; None when none were ever set (no ``groups`` claim then)."""
        with self._lock:
            return self._groups.get(email)
