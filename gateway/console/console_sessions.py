"""The console's session: a signed cookie, so any replica can read it without a session table.

``<key id>.<base64url JSON>.<base64url HMAC-SHA256>``, signed under a key derived from the encryption key
ring (see ``secret``). It holds no secret the operator does not already have: who signed in (the
service client's id, and a check of its key hash so that a new key or a disabled client ends every
session at once), when, the last page view, and the CSRF token of the session. The cookie is
``HttpOnly``, path-scoped to ``/console``, ``Secure`` over https, and ``SameSite=Lax`` rather than
``Strict``: every change is a POST that needs the session's CSRF token (and Lax never sends the cookie
with another site's POST), pages change nothing and cannot be framed, so what Lax allows beyond Strict
(the cookie on a top-level GET from another site) only lets a link to a connection's page in an alert,
a ticket or a chat open that page, where Strict would show the sign-in page to a signed-in operator.

A session ends after ``console_idle_timeout_seconds`` without a page view (each view re-signs it) and
``console_session_max_seconds`` after signing in, whatever happens. Before signing in a browser holds
an anonymous session: the sign-in form is CSRF-protected too, and signing in starts a new session with
a new token (no fixation).

A session is of one of two kinds: ``key`` (an admin key, the break-glass path) or ``sso`` (signed in
at the company's identity provider). An ``sso`` session names the operator (issuer and subject, email
and name for display), the role their claims gave at the last check, when they last signed in at the
provider (``auth_time``) and when the role was last checked; the provider's tokens, which the checks
need, travel sealed with the encryption key ring (``tokens``), never readable by the browser.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, replace

from starlette.requests import Request
from starlette.responses import Response

from gateway.console.secret import SigningKeys
from gateway.settings import Settings

COOKIE = "gateway_console"
PATH = "/console"


@dataclass(frozen=True)
class SsoSession:
    """An operator signed in at the identity provider."""

    issuer: str
    subject: str
    email: str | None
    name: str | None
    role: str
    auth_time: int
    checked_at: int
    tokens: str  # the provider's tokens, sealed (see ``console.sso``)

    def __repr__(self) -> str:
        return f"SsoSession(subject={self.subject!r}, role={self.role!r}, tokens=***)"


@dataclass(frozen=True)
class Session:
    csrf: str
    seen_at: int
    client_id: uuid.UUID | None = None
    key_check: str | None = None
    signed_in_at: int | None = None
    sso: SsoSession | None = None

    @property
    def kind(self) -> str | None:
        """``sso``, ``key``, or None before signing in."""
        if self.sso is not None:
            return "sso"
        return "key" if self.client_id is not None else None

    def seen(self, now: int) -> Session:
        return replace(self, seen_at=now)

    def expired(self, now: int, settings: Settings) -> bool:
        if now - self.seen_at > settings.console_idle_timeout_seconds:
            return True
        started = self.signed_in_at if self.signed_in_at is not None else self.seen_at
        return now - started > settings.console_session_max_seconds


def anonymous(now: int) -> Session:
    return Session(csrf=secrets.token_urlsafe(32), seen_at=now)


def signed_in(client_id: uuid.UUID, key_hash: str, now: int) -> Session:
    return Session(
        csrf=secrets.token_urlsafe(32),
        seen_at=now,
        client_id=client_id,
        key_check=key_check(key_hash),
        signed_in_at=now,
    )


def signed_in_sso(sso: SsoSession, now: int) -> Session:
    return Session(csrf=secrets.token_urlsafe(32), seen_at=now, signed_in_at=now, sso=sso)


def key_check(key_hash: str) -> str:
    """Changes when the client's key does; reveals nothing of the key."""
    return hashlib.sha256(f"console key check|{key_hash}".encode()).hexdigest()[:32]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(session: Session, keys: SigningKeys) -> str:
    data: dict[str, object] = {
        "csrf": session.csrf,
        "seen": session.seen_at,
        "cid": str(session.client_id) if session.client_id is not None else None,
        "kc": session.key_check,
        "iat": session.signed_in_at,
    }
    if session.sso is not None:
        data["sso"] = asdict(session.sso)
    signed = f"{keys.active}.{_b64(json.dumps(data, separators=(',', ':')).encode())}"
    mac = keys.sign(keys.active, signed.encode())
    assert mac is not None
    return f"{signed}.{_b64(mac)}"


def decode(text: str, keys: SigningKeys) -> Session | None:
    """The session in ``text``; None unless a key of the ring signed it. A cookie is ASCII (RFC 6265
    cookie-octets): anything else is no session, like any other cookie we did not sign."""
    if not text.isascii():
        return None
    signed, _, mac = text.rpartition(".")
    key_id, _, payload = signed.partition(".")
    expected = keys.sign(key_id, signed.encode())
    if expected is None or not hmac.compare_digest(_b64(expected).encode(), mac.encode()):
        return None
    try:
        data = json.loads(_unb64(payload))
        client_id = uuid.UUID(data["cid"]) if data["cid"] is not None else None
        return Session(
            csrf=str(data["csrf"]),
            seen_at=int(data["seen"]),
            client_id=client_id,
            key_check=data["kc"],
            signed_in_at=data["iat"],
            sso=SsoSession(**data["sso"]) if data.get("sso") is not None else None,
        )
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        return None


def read(request: Request, keys: SigningKeys, settings: Settings, now: int) -> Session | None:
    """The request's live session, if it has one."""
    text = request.cookies.get(COOKIE)
    session = decode(text, keys) if text else None
    if session is None or session.expired(now, settings):
        return None
    return session


def secure(settings: Settings) -> bool:
    if settings.console_secure_cookie is not None:
        return settings.console_secure_cookie
    return settings.public_url.startswith("https://")


def write(response: Response, session: Session, keys: SigningKeys, settings: Settings) -> None:
    response.set_cookie(
        COOKIE,
        encode(session, keys),
        max_age=settings.console_idle_timeout_seconds,
        path=PATH,
        secure=secure(settings),
        httponly=True,
        samesite="lax",
    )


def clear(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, secure=secure(settings), httponly=True, samesite="lax"
    )
