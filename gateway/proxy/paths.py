"""Normalising the proxied path so that nothing accepted can leave the provider's API base.

Works on the raw (still percent-encoded) path: encoded slashes or backslashes, dot segments (plain or
encoded), empty segments, absolute URLs, control characters and invalid encodings are all refused.
The accepted path is re-encoded segment by segment, so what goes upstream is canonical.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from gateway.exceptions import BadRequest

MAX_PATH_LENGTH = 2048
MAX_SEGMENTS = 64
SEGMENT_SAFE = "!$&'()*+,;=:@-._~"


class InvalidPath(BadRequest):
    """Raised when a proxied path could escape the API base or is not plainly encoded."""

    code = "invalid_path"


@dataclass(frozen=True)
class ProxyPath:
    segments: tuple[str, ...]

    @property
    def encoded(self) -> str:
        return "/" + "/".join(quote(segment, safe=SEGMENT_SAFE) for segment in self.segments)


def _decode_segment(raw: str) -> str:
    lowered = raw.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in raw:
        raise InvalidPath("encoded slashes and backslashes are not allowed in a proxied path")
    try:
        segment = unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidPath("the proxied path is not valid UTF-8") from exc
    if "%" in raw and any(
        len(part) < 2 or not all(c in "0123456789abcdefABCDEF" for c in part[:2])
        for part in raw.split("%")[1:]
    ):
        raise InvalidPath("the proxied path has an invalid percent-encoding")
    if segment in (".", ".."):
        raise InvalidPath("dot segments are not allowed in a proxied path")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in segment):
        raise InvalidPath("control characters are not allowed in a proxied path")
    return segment


def normalise(raw_path: str) -> ProxyPath:
    """Turn the raw path below ``/proxy/users/{user_id}`` into checked, decoded segments."""
    if len(raw_path) > MAX_PATH_LENGTH:
        raise InvalidPath(f"the proxied path is longer than {MAX_PATH_LENGTH} characters")
    if not raw_path.startswith("/"):
        raise InvalidPath("the proxied path must start with /")
    parts = raw_path[1:].split("/")
    if parts == [""]:
        return ProxyPath(())
    if len(parts) > MAX_SEGMENTS:
        raise InvalidPath(f"the proxied path has more than {MAX_SEGMENTS} segments")
    if "" in parts[:-1] or "://" in raw_path or parts[0].endswith(":"):
        raise InvalidPath("empty segments and absolute URLs are not allowed in a proxied path")
    segments = tuple(_decode_segment(part) for part in parts if part)
    return ProxyPath(segments)
