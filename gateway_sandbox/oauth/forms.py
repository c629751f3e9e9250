"""Reading fields of the form-encoded OAuth requests."""

from __future__ import annotations

from starlette.datastructures import FormData

from gateway_sandbox.errors import OAuthError


def form_field(form: FormData, name: str) -> str | None:
    """The field's text; ``None`` when it is absent, empty or a file."""
    value = form.get(name)
    return value if isinstance(value, str) and value else None


def required_field(form: FormData, name: str) -> str:
    value = form_field(form, name)
    if value is None:
        raise OAuthError("invalid_request", f"{name} is required.")
    return value
