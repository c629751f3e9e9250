"""How a connect flow fails in the user's browser: ``ConnectFailure`` (rendered as a redirect to the
service's return URL, or a page), and the checks every step of a flow makes of its session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connect import connect_sessions
from gateway.exceptions import GatewayError
from gateway.kit.clock import utcnow
from gateway.models import ConnectSession


class ConnectFailure(GatewayError):
    """A connect flow that cannot finish; rendered as a redirect to the return URL or a page."""

    status_code = 400

    def __init__(
        self,
        code: str,
        message: str,
        session: ConnectSession | None = None,
        *,
        status_code: int = 400,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, headers=headers, details=details)
        self.status_code = status_code
        self.return_url = session.return_url if session is not None else None


def used(connect_session: ConnectSession) -> ConnectFailure:
    return ConnectFailure(
        "connect_session_used", "This connect link was already used.", connect_session
    )


def check_usable(connect_session: ConnectSession) -> None:
    if connect_session.consumed_at is not None:
        raise used(connect_session)
    if connect_session.expires_at <= utcnow():
        raise ConnectFailure(
            "connect_session_expired", "This connect link has expired.", connect_session
        )


async def usable_by_token(session: AsyncSession, token: str) -> ConnectSession:
    """The session a connect token names (locked), if it may still be used; else ConnectFailure."""
    connect_session = await connect_sessions.find_by_token(session, token) if token else None
    if connect_session is None:
        raise ConnectFailure("invalid_connect_token", "This connect link is not valid.")
    check_usable(connect_session)
    return connect_session
