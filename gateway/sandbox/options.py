"""How one sandbox instance behaves: its single registered client, lifetimes and clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

DAY = 86400


@dataclass(frozen=True, repr=False)
class SandboxOptions:
    """The partner app registered at the sandbox and the rules its tokens follow.

    ``client_secrets`` is a tuple so that a secret rotation can be emulated: every secret in it is
    accepted. ``clock`` returns Unix seconds; tests inject their own to move time instead of
    sleeping. ``issuer`` defaults to the origin each request came in on.
    """

    client_id: str = "sandbox-client"
    client_secrets: tuple[str, ...] = ("sandbox-secret",)
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1:8000/oauth/callback",)
    auto_approve: bool = False
    code_ttl: int = 300
    access_token_ttl: int = DAY
    refresh_token_ttl: int = 30 * DAY
    clock: Callable[[], float] = field(default=time.time, compare=False)
    issuer: str | None = None
    app_name: str = "Sandbox Partner App"

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if not self.client_secrets or not all(self.client_secrets):
            raise ValueError("at least one non-empty client secret is required")
        if not self.redirect_uris:
            raise ValueError("at least one redirect URI is required")
        for name in ("code_ttl", "access_token_ttl", "refresh_token_ttl"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number of seconds")

    def __repr__(self) -> str:
        shown = (
            f"{f.name}={'***' if f.name == 'client_secrets' else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"SandboxOptions({', '.join(shown)})"
