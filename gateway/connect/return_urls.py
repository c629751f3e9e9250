"""Where a finished connect flow may send the browser: only to configured return URLs.

A return URL matches an allowed entry when scheme, host and port are equal and the entry's path is a
prefix of its path at a ``/`` boundary (``https://app/settings`` allows ``https://app/settings/x`` but
not ``https://app/settingsevil``). A path with dot segments, plain or percent-encoded, is refused
before any comparison (``https://app/settings/%2e%2e/admin`` is not below ``/settings``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.kit.dot_segments import has_dot_segments


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or ""), parts.port or default


def is_allowed(url: str, allowed: Iterable[str]) -> bool:
    try:
        candidate = urlsplit(url)
        candidate_origin = _origin(candidate)
    except ValueError:
        return False
    if candidate.scheme not in ("http", "https") or not candidate.hostname or candidate.username:
        return False
    if has_dot_segments(candidate.path):
        return False
    for entry in allowed:
        try:
            allowed_parts = urlsplit(entry)
            allowed_origin = _origin(allowed_parts)
        except ValueError:
            continue
        if allowed_origin != candidate_origin:
            continue
        prefix = allowed_parts.path.rstrip("/")
        path = candidate.path or "/"
        if not prefix or path == prefix or path.startswith(prefix + "/"):
            return True
    return False


def with_params(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` added to its query (replacing same-named ones)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
