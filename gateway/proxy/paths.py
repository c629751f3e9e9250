"""The proxied path: which connection a call addresses, and the checked path below it.

Two routes reach the proxy: ``/proxy/users/{user_id}/{path}`` (the user's default connection in
the caller's space) and ``/proxy/connections/{connection_id}/{path}`` (one connection, by its id).
Contio's SDK reaches the same two at its own base paths, ``/sdk/contio/users/{user_id}`` and
``/sdk/contio/connections/{connection_id}``, to which it appends its API prefix
(``/v1/partner/user``): ``sdk_target`` turns such a path into the proxy's, the prefix dropped.
Either way the path below the user id or the connection id is checked raw (still percent-encoded)
and refused with 400 ``invalid_path`` when it could leave the provider's API base or is not plainly
encoded:

- anything but printable ASCII in the raw path (a client must percent-encode), and over-long paths;
- encoded slashes or backslashes, and backslashes;
- dot segments, plain or encoded, and segments of dots only or dots before ``;`` (``...``, ``..;x``:
  what some servers still read as a step up);
- empty segments and absolute URLs (``//host``, ``http://``);
- invalid percent-encodings, encodings that are not UTF-8, and double encodings (``%25``);
- decoded control characters and decoded non-ASCII (look-alike dots and slashes).

The accepted path is re-encoded segment by segment (``;`` included), so what goes upstream is
canonical and is exactly what the allow rules were checked against.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote, unquote

from starlette.types import Scope

from gateway.connections import queries
from gateway.providers.contio import CONTIO, USER_API_PREFIX
from gateway.proxy.errors import InvalidPath

USERS_PREFIX = "/proxy/users/"
CONNECTIONS_PREFIX = "/proxy/connections/"
# Contio's SDK as it is: a base URL per user or connection, below which it sends its own paths.
SDK_PREFIX = f"/sdk/{CONTIO}/"
SDK_PROVIDER = CONTIO
SDK_USERS_PREFIX = f"{SDK_PREFIX}users/"
SDK_CONNECTIONS_PREFIX = f"{SDK_PREFIX}connections/"
# Every path the proxy serves begins with one of these.
PREFIXES = (USERS_PREFIX, CONNECTIONS_PREFIX, SDK_USERS_PREFIX, SDK_CONNECTIONS_PREFIX)
MAX_USER_ID_LENGTH = 255
MAX_PATH_LENGTH = 2048
MAX_SEGMENTS = 64
SEGMENT_SAFE = "!$&'()*+,=:@-._~"
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]*$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOTS_ONLY = re.compile(r"^\.+(;.*)?$")
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True, slots=True)
class ProxyPath:
    segments: tuple[str, ...]

    @property
    def encoded(self) -> str:
        return "/" + "/".join(quote(segment, safe=SEGMENT_SAFE) for segment in self.segments)


def route_path(path: str, scope: Scope) -> str:
    """``path`` without the app's root path, when it is mounted below one."""
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def raw_target(scope: Scope) -> str:
    """The request's path as the caller sent it (still percent-encoded), below any root path."""
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    return route_path(raw_path.partition("?")[0], scope)


def sdk_target(target: str) -> str:
    """The proxy's raw path for an SDK path (raw): ``/sdk/contio/users/{id}/v1/partner/user/x``
    is ``/proxy/users/{id}/x``, and likewise by connection id; 400 ``invalid_path`` when the path
    below the id is not below the SDK's API prefix."""
    if target.startswith(SDK_USERS_PREFIX):
        prefix, rest = USERS_PREFIX, target[len(SDK_USERS_PREFIX) :]
    else:
        prefix, rest = CONNECTIONS_PREFIX, target[len(SDK_CONNECTIONS_PREFIX) :]
    owner, slash, below = rest.partition("/")
    api = USER_API_PREFIX[1:] + "/"
    if not slash or not below.startswith(api):
        raise InvalidPath(f"an SDK path continues with {USER_API_PREFIX}/ after the id")
    return f"{prefix}{owner}/{below[len(api) :]}"


def user_id_of(raw: str) -> str | None:
    """The user id a path's raw (percent-encoded) user segment names; None when it is empty, too
    long or holds a control character."""
    user_id = unquote(raw) if "%" in raw else raw
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH:
        return None
    # ``isprintable`` first: true for nearly every id, and false for every control character.
    if not user_id.isprintable() and _CONTROL.search(user_id):
        return None
    return user_id


def split_target(target: str) -> tuple[str, ProxyPath]:
    """The user id and the normalised path from ``/proxy/users/{user_id}/{path}`` (raw)."""
    user_part, slash, rest = target[len(USERS_PREFIX) :].partition("/")
    if not slash:
        raise InvalidPath("the proxied path must name a path below the user id")
    user_id = user_id_of(user_part)
    if user_id is None:
        raise InvalidPath("the user id in the proxied path is empty, too long or malformed")
    return user_id, normalise("/" + rest)


def split_user(target: str) -> tuple[str, str]:
    """A raw target on a route by user (the proxy's or the SDK's) as its shape, the same for every
    user (``/proxy/users//{path}``: the user segment left empty), and its raw user segment;
    any other target as it is, and ``""``."""
    if target.startswith(USERS_PREFIX):
        prefix = USERS_PREFIX
    elif target.startswith(SDK_USERS_PREFIX):
        prefix = SDK_USERS_PREFIX
    else:
        return target, ""
    user, slash, rest = target[len(prefix) :].partition("/")
    return prefix + slash + rest, user


def split_connection_target(target: str) -> tuple[uuid.UUID, ProxyPath]:
    """The connection id and the normalised path from ``/proxy/connections/{id}/{path}`` (raw);
    404 ``connection_not_found`` for an id that names no connection (a malformed one)."""
    id_part, slash, rest = target[len(CONNECTIONS_PREFIX) :].partition("/")
    try:
        connection_id = uuid.UUID(id_part)
    except ValueError as exc:
        raise queries.not_found(id_part[:64]) from exc
    if not slash:
        raise InvalidPath("the proxied path must name a path below the connection id")
    return connection_id, normalise("/" + rest)


def _decode_segment(raw: str) -> str:
    lowered = raw.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in raw:
        raise InvalidPath("encoded slashes and backslashes are not allowed in a proxied path")
    if _BAD_ESCAPE.search(raw):
        raise InvalidPath("the proxied path has an invalid percent-encoding")
    if "%25" in raw:
        raise InvalidPath("double percent-encoding is not allowed in a proxied path")
    try:
        segment = unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidPath("the proxied path is not valid UTF-8") from exc
    if _DOTS_ONLY.match(segment):
        raise InvalidPath("dot segments are not allowed in a proxied path")
    if any(not 0x20 <= ord(char) < 0x7F for char in segment):
        raise InvalidPath(
            "control characters and non-ASCII characters are not allowed in a proxied path"
        )
    return segment


def normalise(raw_path: str) -> ProxyPath:
    """Turn the raw path below the user id or connection id into checked, decoded segments."""
    if len(raw_path) > MAX_PATH_LENGTH:
        raise InvalidPath(f"the proxied path is longer than {MAX_PATH_LENGTH} characters")
    if not raw_path.startswith("/"):
        raise InvalidPath("the proxied path must start with /")
    if not _PRINTABLE_ASCII.match(raw_path):
        raise InvalidPath("the proxied path must be printable ASCII (percent-encode the rest)")
    parts = raw_path[1:].split("/")
    if parts == [""]:
        return ProxyPath(())
    if len(parts) > MAX_SEGMENTS:
        raise InvalidPath(f"the proxied path has more than {MAX_SEGMENTS} segments")
    if "" in parts[:-1] or "://" in raw_path or parts[0].endswith(":"):
        raise InvalidPath("empty segments and absolute URLs are not allowed in a proxied path")
    segments = tuple(_decode_segment(part) for part in parts if part)
    return ProxyPath(segments)
