"""Redacting secrets that travel in URLs (codes, state, connect tokens) before anything logs them."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

SENSITIVE_PARAMS = frozenset(
    {
        "code",
        "state",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "code_verifier",
        "client_secret",
        "session_state",
        "session",
    }
)
MASK = "***"


def redact_query(query: str, more: frozenset[str] = frozenset()) -> str:
    """``query`` with the values of ``SENSITIVE_PARAMS`` and of ``more`` (lower-case names)
    masked."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [
            (key, MASK if key.lower() in SENSITIVE_PARAMS or key.lower() in more else value)
            for key, value in pairs
        ],
        safe="*",
    )
