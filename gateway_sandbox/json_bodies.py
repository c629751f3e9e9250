"""JSON request bodies (partner API and partner auth), read strictly: a bad field is a 400 naming it.

``Body`` distinguishes a field that is absent from one sent as ``null`` (``has``), which a PATCH
needs. Error codes are the documented per-endpoint ones where Contio has one (``invalid_start_time``,
``invalid_due_date``, ``invalid_status``...), else ``invalid_request``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from starlette.requests import Request

from gateway_sandbox.errors import ApiError

MAX_TEXT = 10_000
# Contio's request bodies nest a few levels at most.
MAX_DEPTH = 32
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


async def json_body(request: Request) -> Body:
    """The request's JSON object (an empty body reads as ``{}``); else 400 ``invalid_request_body``."""
    raw = await request.body()
    if not raw.strip():
        return Body({})
    return Body(json_object(raw))


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object nested at most ``MAX_DEPTH`` deep; else 400 ``invalid_request_body``.

    Every endpoint that reads JSON reads it here, so none can be made to recurse past Python's
    limit (``[[[[…`` ten thousand deep), neither while parsing nor later, writing the value back.
    """
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "invalid_request_body", "The body must be a JSON object.") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_request_body", "The body must be a JSON object.")
    if _deeper_than(value, MAX_DEPTH):
        raise ApiError(
            400, "invalid_request_body", f"The body is nested deeper than {MAX_DEPTH} levels."
        )
    return value


def _deeper_than(value: object, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` deep in ``value`` (without recursing)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def invalid(message: str, code: str = "invalid_request") -> ApiError:
    return ApiError(400, code, message)


def is_email(value: str) -> bool:
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


class Body:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def has(self, name: str) -> bool:
        return name in self.raw

    def text(self, name: str, *, required: bool = False, nullable: bool = False) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required or (name in self.raw and not nullable):
                raise invalid(f"{name} is required and must be a non-empty string.")
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise invalid(f"{name} must be a non-empty string of at most {MAX_TEXT} characters.")
        return value.strip()

    def required_text(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def email(self, name: str) -> str:
        value = self.required_text(name).lower()
        if not is_email(value):
            raise invalid(f"{name} must be an email address.")
        return value

    def timestamp(self, name: str) -> datetime | None:
        """An RFC 3339 date-time with an offset; errors are ``invalid_<name>``."""
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise invalid(
                f"{name} must be an RFC 3339 date-time with an offset.", f"invalid_{name}"
            )
        return parsed.astimezone(UTC).replace(microsecond=0)

    def day(self, name: str, code: str) -> date | None:
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            return (
                date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _no()
            )
        except ValueError as exc:
            raise invalid(f"{name} must be a date, YYYY-MM-DD.", code) from exc

    def choice(
        self, name: str, allowed: Sequence[str], code: str = "invalid_request"
    ) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if name in self.raw:
                raise invalid(f"{name} must be one of: {', '.join(allowed)}.", code)
            return None
        if value not in allowed:
            raise invalid(f"{name} must be one of: {', '.join(allowed)}.", code)
        return str(value)

    def boolean(self, name: str) -> bool | None:
        value = self.raw.get(name)
        if value is not None and not isinstance(value, bool):
            raise invalid(f"{name} must be true or false.")
        return value

    def count(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24 * 60:
            raise invalid(f"{name} must be a whole number of minutes from 0 to 1440.")
        return value

    def uuid(self, name: str, code: str = "invalid_request") -> UUID | None:
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            return UUID(value) if isinstance(value, str) else _no()
        except ValueError as exc:
            raise invalid(f"{name} must be a UUID.", code) from exc

    def uuids(self, name: str) -> tuple[UUID, ...] | None:
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                _no()
            return tuple(dict.fromkeys(UUID(v) for v in value))
        except ValueError as exc:
            raise invalid(f"{name} must be a list of UUIDs.") from exc

    def sequence(self, name: str) -> str | None:
        """A fractional index: a non-negative decimal string such as ``"2"`` or ``"1.5"``."""
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            if not isinstance(value, str) or not re.fullmatch(r"\d{1,12}(\.\d{1,12})?", value):
                _no()
            Decimal(value)
        except (ValueError, InvalidOperation) as exc:
            raise invalid(f'{name} must be a decimal string such as "2" or "1.5".') from exc
        return value

    def object(self, name: str) -> dict[str, Any] | None:
        value = self.raw.get(name)
        if value is not None and not isinstance(value, dict):
            raise invalid(f"{name} must be a JSON object.")
        return value

    def talking_points(self, name: str) -> str | list[str] | None:
        """Contio does not say their type: a string or a list of strings is accepted as sent."""
        value = self.raw.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise invalid(f"{name} must be a string or a list of strings.")


def _no() -> Any:
    raise ValueError("wrong type")
