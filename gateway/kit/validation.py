"""What was wrong with validated input, in the gateway's words rather than pydantic's.

``problems`` turns a ``ValidationError`` into ``{field, problem}`` pairs such as
``{"field": "user_id", "problem": "must be at most 255 characters"}``: a problem is a short phrase
of ours, never pydantic's prose ("Input should be ...") or its documentation links. A validator of
ours that raises ``ValueError`` speaks for itself: its message is the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

# One entry of ``ValidationError.errors()``: type, loc, msg, ctx.
ErrorDetails = Mapping[str, Any]

# How many problems ``summary`` spells out before "and N more".
SUMMARY_LIMIT = 3


def _plural(count: object, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _ctx(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda ctx: ctx.get(name, "?")


_PHRASES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda ctx: "is required",
    "extra_forbidden": lambda ctx: "is not a field of this request",
    "string_type": lambda ctx: "must be a string",
    "string_too_short": lambda ctx: (
        f"must be at least {_plural(ctx.get('min_length', '?'), 'character')}"
    ),
    "string_too_long": lambda ctx: (
        f"must be at most {_plural(ctx.get('max_length', '?'), 'character')}"
    ),
    "string_pattern_mismatch": lambda ctx: f"must match {_ctx('pattern')(ctx)}",
    "too_short": lambda ctx: f"must have at least {_plural(ctx.get('min_length', '?'), 'item')}",
    "too_long": lambda ctx: f"must have at most {_plural(ctx.get('max_length', '?'), 'item')}",
    "int_type": lambda ctx: "must be an integer",
    "int_parsing": lambda ctx: "must be an integer",
    "int_from_float": lambda ctx: "must be an integer",
    "float_type": lambda ctx: "must be a number",
    "float_parsing": lambda ctx: "must be a number",
    "bool_type": lambda ctx: "must be true or false",
    "bool_parsing": lambda ctx: "must be true or false",
    "greater_than": lambda ctx: f"must be greater than {_ctx('gt')(ctx)}",
    "greater_than_equal": lambda ctx: f"must be at least {_ctx('ge')(ctx)}",
    "less_than": lambda ctx: f"must be less than {_ctx('lt')(ctx)}",
    "less_than_equal": lambda ctx: f"must be at most {_ctx('le')(ctx)}",
    "list_type": lambda ctx: "must be a list",
    "tuple_type": lambda ctx: "must be a list",
    "set_type": lambda ctx: "must be a list",
    "dict_type": lambda ctx: "must be an object",
    "model_type": lambda ctx: "must be an object",
    "model_attributes_type": lambda ctx: "must be an object",
    "literal_error": lambda ctx: f"must be {_ctx('expected')(ctx)}",
    "enum": lambda ctx: f"must be {_ctx('expected')(ctx)}",
    "uuid_type": lambda ctx: "must be a UUID",
    "uuid_parsing": lambda ctx: "must be a UUID",
    "datetime_type": lambda ctx: "must be an RFC 3339 date-time",
    "datetime_parsing": lambda ctx: "must be an RFC 3339 date-time",
    "datetime_from_date_parsing": lambda ctx: "must be an RFC 3339 date-time",
    "timezone_aware": lambda ctx: "must be an RFC 3339 date-time with a time zone",
    "url_type": lambda ctx: "must be a URL",
    "url_parsing": lambda ctx: "must be a URL",
    "url_scheme": lambda ctx: f"must be a URL with scheme {_ctx('expected_schemes')(ctx)}",
    "url_too_long": lambda ctx: f"must be at most {_ctx('max_length')(ctx)} characters",
    "json_invalid": lambda ctx: "must be valid JSON",
    "frozen_field": lambda ctx: "cannot be changed",
}


def problem(error: ErrorDetails) -> str:
    """One error's problem, as a phrase that follows the field's name."""
    kind = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    phrase = _PHRASES.get(kind)
    return phrase(ctx) if phrase is not None else "is not valid"


def field_name(error: ErrorDetails) -> str:
    """The error's dotted location (``scopes.0``); empty for the input as a whole."""
    return ".".join(str(part) for part in error["loc"])


def problems(exc: ValidationError, *, whole: str = "body") -> list[dict[str, str]]:
    """``{field, problem}`` for each error; ``whole`` names the input itself when no field does."""
    return [
        {"field": field_name(error) or whole, "problem": problem(error)}
        for error in exc.errors(include_url=False, include_input=False)
    ]


def summary(found: list[dict[str, str]]) -> str:
    """``field: problem`` for the first few, on one line."""
    shown = "; ".join(f"{item['field']}: {item['problem']}" for item in found[:SUMMARY_LIMIT])
    more = len(found) - SUMMARY_LIMIT
    return f"{shown} (and {more} more)" if more > 0 else shown
