"""A secret shown once, on the page a POST redirects to (POST-redirect-GET): a delegated key just
issued.

The handler that makes the secret cannot show it itself (a reload would post again, and issue
another), and the redirect's URL must not carry it (it would stay in the browser's history). So the
secret rides in a cookie of its own to that one page: sealed under the key ring (AES-GCM, bound to
the console session's CSRF token and to the page's path, so another session or page cannot open
it), ``HttpOnly``, ``SameSite=Strict``, path-scoped to the page, living ``MAX_AGE_SECONDS``; the
page shows it and deletes it, so a reload shows it no more.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.console import console_sessions as sessions
from gateway.console.console_sessions import Session
from gateway.kit.crypto import Binding, DecryptionError, KeyRing
from gateway.settings import Settings

COOKIE = "gateway_console_once"
MAX_AGE_SECONDS = 120


def _binding(session: Session, path: str) -> Binding:
    return Binding(table="console", column="shown_once", row_id=f"{session.csrf}|{path}")


def keep(
    response: Response,
    secret: str,
    *,
    path: str,
    session: Session,
    keys: KeyRing,
    settings: Settings,
) -> None:
    """Have the page at ``path`` show ``secret`` once, to this session."""
    response.set_cookie(
        COOKIE,
        keys.seal(secret, _binding(session, path)),
        max_age=MAX_AGE_SECONDS,
        path=path,
        secure=sessions.secure(settings),
        httponly=True,
        samesite="strict",
    )


def take(request: Request, *, path: str, session: Session, keys: KeyRing) -> str | None:
    """The secret kept for the page at ``path`` and this session, if the browser still holds it."""
    sealed = request.cookies.get(COOKIE)
    if not sealed:
        return None
    try:
        return keys.open(sealed, _binding(session, path))
    except DecryptionError:
        return None


def forget(response: Response, *, path: str, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path=path, secure=sessions.secure(settings), httponly=True, samesite="strict"
    )
