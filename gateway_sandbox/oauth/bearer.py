"""Reading the ``Authorization: Bearer`` access token (RFC 6750 §2.1)."""

from __future__ import annotations

from starlette.requests import Request


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def challenge(error: str, description: str, scope: str | None = None) -> dict[str, str]:
    """The ``WWW-Authenticate`` header that goes with a refused bearer token."""
    value = f'Bearer realm="contio-sandbox", error="{error}", error_description="{description}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}
