"""Query parameters of the partner API, read strictly: a bad value is a 400, never a guess."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from starlette.datastructures import QueryParams

from gateway_sandbox.errors import ApiError

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def pagination(params: QueryParams, default_limit: int = DEFAULT_LIMIT) -> tuple[int, int]:
    """``(limit, offset)``: limit 1-100 (default 25), offset from 0 (default 0)."""
    limit = _integer(params, "limit", default_limit)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise _invalid(f"limit must be an integer from 1 to {MAX_LIMIT}.")
    offset = _integer(params, "offset", 0)
    if offset is None:
        raise _invalid("offset must be a non-negative integer.")
    return limit, offset


def page(
    items: Sequence[dict[str, Any]], limit: int, offset: int, key: str = "items"
) -> dict[str, Any]:
    window = list(items[offset : offset + limit])
    return {key: window, "total": len(items), "limit": limit, "offset": offset}


def timestamp(params: QueryParams, name: str) -> datetime | None:
    """An ISO 8601 date or date-time (naive means UTC); errors carry ``invalid_<name>``."""
    value = params.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(400, f"invalid_{name}", f"{name} must be an ISO 8601 date-time.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def boolean(params: QueryParams, name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise _invalid(f"{name} must be true or false.")
    return value.lower() == "true"


def uuid(value: str, code: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise ApiError(400, code, f"{what} must be a UUID.") from exc


def _integer(params: QueryParams, name: str, default: int) -> int | None:
    """The parameter as a non-negative integer, its default when absent, ``None`` when invalid."""
    value = params.get(name)
    if value is None:
        return default
    return int(value) if value.isascii() and value.isdigit() else None


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_query_parameters", message)


def choice(params: QueryParams, name: str, allowed: Sequence[str]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise _invalid(f"{name} must be one of: {', '.join(allowed)}.")
    return value
