"""Reading query parameters strictly: an unknown or malformed parameter is a 400, never ignored."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from gateway.kit.errors import BadRequest


def only(params: QueryParams, allowed: Collection[str]) -> None:
    """Refuse parameters outside ``allowed`` (a typo such as ``userid`` must not list everything)."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s): {', '.join(unknown)[:200]}",
            code="unknown_parameter",
            details={"unknown": unknown[:20], "allowed": sorted(allowed)},
        )


def text(params: QueryParams, name: str, *, max_length: int) -> str | None:
    value = params.get(name)
    # PostgreSQL text cannot hold U+0000: such a filter would fail in the database, not match.
    if value is not None and (not 1 <= len(value) <= max_length or "\x00" in value):
        raise BadRequest(
            f"{name} must be 1 to {max_length} characters, without NUL", code=f"invalid_{name}"
        )
    return value


def choice(params: QueryParams, name: str, choices: Sequence[str]) -> str | None:
    value = params.get(name)
    if value is not None and value not in choices:
        raise BadRequest(
            f"{name} must be one of {', '.join(choices)}",
            code=f"invalid_{name}",
            details={"allowed": list(choices)},
        )
    return value


def id_in_path(text: str) -> uuid.UUID | None:
    """The UUID a path segment names, or None when it is malformed (and so names nothing)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def uuid_param(params: QueryParams, name: str) -> uuid.UUID | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a UUID", code=f"invalid_{name}") from exc


def choices(params: QueryParams, name: str, allowed: Sequence[str]) -> frozenset[str] | None:
    """A repeatable parameter (``?kind=a&kind=b``): the values given, None when absent."""
    values = params.getlist(name)
    if not values:
        return None
    if any(value not in allowed for value in values):
        raise BadRequest(
            f"each {name} must be one of {', '.join(allowed)}",
            code=f"invalid_{name}",
            details={"allowed": list(allowed)},
        )
    return frozenset(values)


def moment(params: QueryParams, name: str) -> datetime | None:
    """An RFC 3339 date-time with a time zone (``2026-12-07T10:00:00Z``)."""
    value = params.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError("no time zone")
        return parsed.astimezone(UTC)  # OverflowError: beyond years 1 to 9999 in UTC
    except (ValueError, OverflowError) as exc:
        raise BadRequest(
            f"{name} must be an RFC 3339 date-time with a time zone, e.g. 2026-12-07T10:00:00Z",
            code=f"invalid_{name}",
        ) from exc
